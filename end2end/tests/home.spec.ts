// The home page: server-rendered, hydrated, and its clock live over SSE.
import { expect, test } from '@playwright/test';

test.describe('before any script runs', () => {
  test.use({ javaScriptEnabled: false });

  test('the server-rendered HTML already contains the page', async ({ page, request }) => {
    const html = await (await request.get('/')).text();
    expect(html).toContain('Server time');
    expect(html).toContain('<title>Belfry · Live clock</title>');

    await page.goto('/');
    await expect(page.getByRole('heading', { name: 'Real-time, by Server-Sent Events' })).toBeVisible();
    await expect(page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Notifications' })).toBeVisible();
    await expect(page.getByLabel('Server time', { exact: true })).toHaveText('--:--:--');
  });
});

test('the page hydrates: the pause button works', async ({ page }) => {
  await page.goto('/');
  const live = page.getByRole('status', { name: 'Live connection: open' });
  await expect(live).toBeVisible();
  await page.getByRole('button', { name: 'Pause clock' }).click();
  await expect(page.getByText('Clock paused: its stream is closed.')).toBeVisible();
  await expect(page.getByRole('button', { name: 'Resume clock' })).toHaveAttribute('aria-pressed', 'true');
  await page.getByRole('button', { name: 'Resume clock' }).click();
  await expect(live).toBeVisible();
});

test('the clock ticks and the status dot is green', async ({ page }) => {
  await page.goto('/');
  const clock = page.getByLabel('Server time', { exact: true });
  await expect(clock).toHaveText(/^\d\d:\d\d:\d\d$/);
  const seen = new Set<string>();
  for (let i = 0; i < 3; i++) {
    const text = (await clock.textContent()) ?? '';
    seen.add(text);
    await expect(clock).not.toHaveText(text, { timeout: 3_000 });
  }
  seen.add((await clock.textContent()) ?? '');
  expect(seen.size).toBeGreaterThanOrEqual(3);

  const status = page.getByRole('status', { name: 'Live connection: open' });
  await expect(status).toHaveAttribute('data-state', 'open');
  const dotColour = await status.locator('span').first().evaluate((el) => getComputedStyle(el).backgroundColor);
  // Tailwind's emerald-500, however the browser spells the colour.
  expect(dotColour).toMatch(/oklch\(0\.696 0\.17 162\.48\)|rgb\(0, 188, 125\)/);
  await page.screenshot({ path: test.info().outputPath('home.png'), fullPage: true });
});

test('navigation reaches every page', async ({ page }) => {
  await page.goto('/');
  const nav = page.getByRole('navigation', { name: 'Main' });
  for (const name of ['Notifications', 'Progress', 'Activity']) {
    await nav.getByRole('link', { name }).click();
    await expect(page.getByRole('heading', { name, level: 1 })).toBeVisible();
    await expect(nav.getByRole('link', { name })).toHaveAttribute('aria-current', 'page');
  }
});
