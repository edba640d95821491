// The home page: server-rendered, hydrated, and its clock live over SSE.
import { expect, test } from '@playwright/test';
import { visit } from './support/page';

test.describe('before any script runs', () => {
  test.use({ javaScriptEnabled: false });

  test('the server-rendered HTML already contains the page', async ({ page, request }) => {
    const html = await (await request.get('/')).text();
    expect(html).toContain('Server time');
    expect(html).toContain('<title>Belfry · Live clock</title>');

    await page.goto('/');
    await expect(page.getByRole('heading', { name: 'Real-time, by Server-Sent Events' })).toBeVisible();
    await expect(page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Notifications' })).toBeVisible();
    await expect(page.getByLabel('Current server time')).toHaveText('--:--:--');
  });
});

test('the page hydrates: the pause button works', async ({ page }) => {
  await visit(page, '/');
  const live = page.getByRole('status', { name: 'Live connection: open' });
  await expect(live).toBeVisible();
  await page.getByRole('button', { name: 'Pause clock' }).click();
  await expect(page.getByText('Clock paused: its stream is closed.')).toBeVisible();
  await expect(page.getByRole('button', { name: 'Resume clock' })).toHaveAttribute('aria-pressed', 'true');
  await page.getByRole('button', { name: 'Resume clock' }).click();
  await expect(live).toBeVisible();
});

test('the clock ticks and the status dot is green', async ({ page }) => {
  await visit(page, '/');
  const clock = page.getByLabel('Current server time');
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
  // Resolve the dot's colour to RGB through a canvas, whatever colour space
  // the stylesheet uses, and check that it is green.
  const [red, green, blue] = await status.locator('span').first().evaluate((el) => {
    const context = document.createElement('canvas').getContext('2d')!;
    context.fillStyle = getComputedStyle(el).backgroundColor;
    context.fillRect(0, 0, 1, 1);
    return Array.from(context.getImageData(0, 0, 1, 1).data.slice(0, 3));
  });
  expect(green).toBeGreaterThan(red + 60);
  expect(green).toBeGreaterThan(blue + 40);
  await page.screenshot({ path: test.info().outputPath('home.png'), fullPage: true });
});

test('navigation reaches every page', async ({ page }) => {
  await visit(page, '/');
  const nav = page.getByRole('navigation', { name: 'Main' });
  for (const name of ['Notifications', 'Progress', 'Activity']) {
    await nav.getByRole('link', { name }).click();
    await expect(page.getByRole('heading', { name, level: 1 })).toBeVisible();
    await expect(nav.getByRole('link', { name })).toHaveAttribute('aria-current', 'page');
  }
});
