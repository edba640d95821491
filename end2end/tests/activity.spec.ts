// The activity feed in Chromium: simulate, auto-simulate and stop, and real
// sign-ins, seen from another browser context.
import { expect, test, type Page, type Response } from '@playwright/test';
import { signIn, uniqueName } from './support/inbox';
import { visit } from './support/page';

function isSimulate(response: Response): boolean {
  return response.url().endsWith('/api/activity/simulate') && response.request().method() === 'POST';
}

async function openFeed(page: Page) {
  await signIn(page, uniqueName('reader'));
  await visit(page, '/activity');
  await expect(page.getByRole('status', { name: 'Live connection: open' })).toBeVisible();
}

test('"Simulate activity" adds an entry that a second context sees too', async ({ browser }) => {
  const one = await (await browser.newContext()).newPage();
  const two = await (await browser.newContext()).newPage();
  await openFeed(one);
  await openFeed(two);

  const [response] = await Promise.all([
    one.waitForResponse(isSimulate),
    one.getByRole('button', { name: 'Simulate activity' }).click(),
  ]);
  const { id } = await response.json();
  for (const page of [one, two]) {
    const entry = page.locator(`[data-testid="activity"][data-id="${id}"]`);
    await expect(entry).toBeVisible();
    await expect(entry.getByTestId('when')).toHaveText('just now');
  }
  // Newest first (other tests add entries to the same feed meanwhile, so
  // the order is checked, not which entry is on top).
  const ids = await two.getByTestId('activity').evaluateAll((items) => items.map((item) => item.getAttribute('data-id') ?? ''));
  const key = (eventId: string) => eventId.split('-').map(BigInt);
  const newerFirst = (a: string, b: string) => {
    const [am, as] = key(a);
    const [bm, bs] = key(b);
    return am > bm || (am === bm && as > bs);
  };
  expect(ids).toContain(id);
  for (let i = 1; i < ids.length; i++) expect(newerFirst(ids[i - 1], ids[i]), `${ids[i - 1]} before ${ids[i]}`).toBe(true);
});

test('auto-simulate adds entries every 3 s and stops when stopped or when the page is left', async ({ page }) => {
  // Watches the clock on purpose (two quiet 4 s spells): give it room.
  test.setTimeout(60_000);
  await openFeed(page);
  const sent: string[] = [];
  page.on('response', async (response) => {
    if (isSimulate(response)) sent.push((await response.json()).id);
  });

  await page.getByRole('button', { name: 'Auto-simulate' }).click();
  await expect.poll(() => sent.length, { timeout: 10_000 }).toBeGreaterThanOrEqual(2);
  for (const id of sent.slice(0, 2)) {
    await expect(page.locator(`[data-testid="activity"][data-id="${id}"]`)).toBeVisible();
  }
  await page.getByRole('button', { name: 'Stop' }).click();
  await expect(page.getByRole('button', { name: 'Auto-simulate' })).toBeVisible();
  await page.waitForTimeout(500);
  const afterStop = sent.length;
  await page.waitForTimeout(4_000);
  expect(sent.length).toBe(afterStop);

  // Leaving the page stops it as well.
  await page.getByRole('button', { name: 'Auto-simulate' }).click();
  await expect.poll(() => sent.length, { timeout: 10_000 }).toBeGreaterThan(afterStop);
  await page.getByRole('link', { name: 'Home' }).click();
  await expect(page).toHaveURL(/\/$/);
  await page.waitForTimeout(500);
  const afterLeaving = sent.length;
  await page.waitForTimeout(4_000);
  expect(sent.length).toBe(afterLeaving);
});

test('visitors who are not signed in are asked to sign in', async ({ page }) => {
  await visit(page, '/activity');
  await expect(page.getByText('Sign in to follow the activity feed.')).toBeVisible();
  await expect(page.getByRole('button', { name: 'Simulate activity' })).toBeHidden();
});

test('signing in as a new user shows "joined" in another context\'s feed', async ({ browser }) => {
  const watcher = await (await browser.newContext()).newPage();
  await openFeed(watcher);
  const newcomer = uniqueName('newcomer');
  const page = await (await browser.newContext()).newPage();
  await signIn(page, newcomer);
  const entry = watcher.getByTestId('activity').filter({ hasText: newcomer });
  await expect(entry).toBeVisible();
  await expect(entry).toContainText('joined');
  await expect(entry).toHaveAttribute('data-type', 'user_joined');
});
