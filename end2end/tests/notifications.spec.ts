// The notification center in real Chromium: two users, live delivery,
// read state across tabs, reload, offline catch-up, and escaping.
import { expect, test } from '@playwright/test';
import { bell, bellLive, publish, signIn, uniqueName } from './support/inbox';
import { visit } from './support/page';

test('bob sends to alice: alice gets a toast and a badge, bob does not', async ({ browser }) => {
  const alice = uniqueName('alice');
  const bob = uniqueName('bob');
  const aliceContext = await browser.newContext();
  const bobContext = await browser.newContext();
  const alicePage = await aliceContext.newPage();
  const bobPage = await bobContext.newPage();
  await signIn(alicePage, alice);
  await signIn(bobPage, bob);

  const title = `Hello from ${bob}`;
  const form = bobPage.getByRole('region', { name: 'Send to a user' });
  await form.getByLabel('Recipient').fill(alice);
  await form.getByLabel('Title').fill(title);
  await form.getByLabel('Message').fill('Lunch at noon?');
  await form.getByRole('button', { name: 'Send' }).click();

  const toast = alicePage.getByTestId('toast').filter({ hasText: title });
  await expect(toast).toBeVisible({ timeout: 1_000 });
  // Bottom-right of the viewport.
  const box = await toast.boundingBox();
  const viewport = alicePage.viewportSize()!;
  expect(box!.y).toBeGreaterThan(viewport.height / 2);
  expect(box!.x).toBeGreaterThan(viewport.width / 2);
  await expect(bell(alicePage)).toHaveAccessibleName('Notifications, 1 unread', { timeout: 1_000 });
  await expect(alicePage.getByTestId('unread-badge')).toHaveText('1');
  await expect(form.getByRole('status')).toHaveText('Sent.');
  await expect(bell(bobPage)).toHaveAccessibleName('Notifications, 0 unread');
  await expect(bobPage.getByTestId('unread-badge')).toHaveCount(0);
  await aliceContext.close();
  await bobContext.close();
});

test('the test buttons send each kind to yourself', async ({ page }) => {
  await signIn(page, uniqueName('tester'));
  for (const kind of ['Info', 'Success', 'Warning', 'Error']) {
    await page.getByRole('button', { name: kind, exact: true }).click();
    await expect(page.getByTestId('toast').filter({ hasText: `Test ${kind.toLowerCase()} notification` })).toBeVisible();
  }
  await expect(bell(page)).toHaveAccessibleName('Notifications, 4 unread');
  await expect(page.getByTestId('toast')).toHaveCount(3);
});

test('marking read in one tab updates the other, and a reload keeps it', async ({ browser, request }) => {
  const alice = uniqueName('alice');
  const context = await browser.newContext();
  const tabOne = await context.newPage();
  await signIn(tabOne, alice);
  const tabTwo = await context.newPage();
  await visit(tabTwo, '/notifications');
  await bellLive(tabTwo);
  await expect(bell(tabTwo)).toHaveAccessibleName('Notifications, 0 unread');

  await publish(request, alice, 'Read me in one tab');
  await publish(request, alice, 'Still unread');
  await expect(bell(tabOne)).toHaveAccessibleName('Notifications, 2 unread');
  await expect(bell(tabTwo)).toHaveAccessibleName('Notifications, 2 unread');

  await bell(tabOne).click();
  const panel = tabOne.getByRole('dialog', { name: 'Notifications' });
  await panel.getByRole('button', { name: 'Read me in one tab (unread)' }).click();
  await expect(bell(tabOne)).toHaveAccessibleName('Notifications, 1 unread');
  await expect(bell(tabTwo)).toHaveAccessibleName('Notifications, 1 unread');

  await tabTwo.reload();
  await expect(bell(tabTwo)).toHaveAccessibleName('Notifications, 1 unread');
  await bell(tabTwo).click();
  const list = tabTwo.getByRole('dialog', { name: 'Notifications' });
  await expect(list.getByRole('button', { name: 'Read me in one tab', exact: true })).toBeVisible();
  await expect(list.getByRole('button', { name: 'Still unread (unread)' })).toBeVisible();

  await list.getByRole('button', { name: 'Mark all as read' }).click();
  await expect(bell(tabOne)).toHaveAccessibleName('Notifications, 0 unread');
  await expect(bell(tabTwo)).toHaveAccessibleName('Notifications, 0 unread');
  await context.close();
});

test('the panel opens, closes on Escape and outside clicks, and is kept as a screenshot', async ({ page, request }) => {
  const name = uniqueName('panel');
  await signIn(page, name);
  await bell(page).click();
  const panel = page.getByRole('dialog', { name: 'Notifications' });
  await expect(panel.getByText('No notifications')).toBeVisible();
  await page.keyboard.press('Escape');
  await expect(panel).toBeHidden();
  await expect(bell(page)).toBeFocused();

  for (const [kind, title] of [
    ['info', 'Build started'],
    ['success', 'Deploy finished'],
    ['warning', 'Disk at 85%'],
    ['error', 'Payment failed'],
  ]) {
    await publish(request, name, title, { kind, body: `A ${kind} notification` });
  }
  await expect(bell(page)).toHaveAccessibleName('Notifications, 4 unread');
  await page.keyboard.press('Tab');
  await bell(page).focus();
  await page.keyboard.press('Enter');
  await expect(panel.getByRole('listitem')).toHaveCount(4);
  await expect(panel.getByTestId('notification-title').first()).toHaveText('Payment failed');
  await page.screenshot({ path: test.info().outputPath('panel.png') });
  await test.info().attach('panel', { path: test.info().outputPath('panel.png'), contentType: 'image/png' });
  // A click anywhere outside the panel closes it.
  await page.mouse.click(10, 700);
  await expect(panel).toBeHidden();
});

test('offline while 3 are sent: exactly those 3 appear once when back', async ({ browser, request }) => {
  const alice = uniqueName('alice');
  const context = await browser.newContext();
  const page = await context.newPage();
  await signIn(page, alice);
  await publish(request, alice, 'Before going offline');
  await expect(bell(page)).toHaveAccessibleName('Notifications, 1 unread');
  // The panel's code arrives while the page is idle after the bell is live;
  // from then on the panel opens offline too.
  await expect(page.locator('[data-panel-ready]')).toHaveCount(1);

  await context.setOffline(true);
  await bell(page).click();
  await expect(page.getByText('Live updates are paused: reconnecting…')).toBeVisible();
  const missed = ['Missed one', 'Missed two', 'Missed three'];
  for (const title of missed) await publish(request, alice, title);
  await context.setOffline(false);

  await expect(bell(page)).toHaveAccessibleName('Notifications, 4 unread', { timeout: 15_000 });
  const panel = page.getByRole('dialog', { name: 'Notifications' });
  for (const title of missed) {
    await expect(panel.getByTestId('notification-title').filter({ hasText: title })).toHaveCount(1);
  }
  await expect(panel.getByRole('listitem')).toHaveCount(4);
  await context.close();
});

test('a hostile title is shown as text and runs nothing', async ({ page, request }) => {
  const name = uniqueName('xss');
  let dialogs = 0;
  page.on('dialog', async (dialog) => {
    dialogs += 1;
    await dialog.dismiss();
  });
  await signIn(page, name);
  const hostile = '<img src=x onerror=alert(1)>';
  await publish(request, name, hostile, { body: '<script>alert(2)</script>' });
  await expect(page.getByTestId('toast').filter({ hasText: hostile })).toBeVisible();
  await bell(page).click();
  await expect(page.getByTestId('notification-title')).toHaveText(hostile);
  await expect(page.locator('img[src="x"]')).toHaveCount(0);
  expect(dialogs).toBe(0);
});

test('sign-in refuses a bad name before sending it', async ({ page }) => {
  await visit(page, '/sign-in');
  await page.getByLabel('Display name').fill('not ok!');
  await expect(page.getByRole('alert')).toContainText('only letters, digits');
  await expect(page.getByRole('button', { name: 'Sign in' })).toBeDisabled();
});

test('a toast stays while hovered and leaves about 5 s after', async ({ page, request }) => {
  const name = uniqueName('hover');
  await signIn(page, name);
  await publish(request, name, 'Hover over me');
  const toast = page.getByTestId('toast').filter({ hasText: 'Hover over me' });
  await toast.hover();
  await page.waitForTimeout(6_000);
  await expect(toast).toBeVisible();
  await page.mouse.move(10, 10);
  await expect(toast).toBeHidden({ timeout: 8_000 });
});

test.describe('on a phone', () => {
  test.use({ viewport: { width: 390, height: 844 } });

  test('the header, panel and dashboard fit the screen', async ({ page, request }) => {
    const name = uniqueName('phone');
    await signIn(page, name);
    await publish(request, name, 'Small screens too', { kind: 'warning' });
    await bell(page).click();
    const panel = page.getByRole('dialog', { name: 'Notifications' });
    await expect(panel.getByRole('listitem')).toHaveCount(1);
    const box = (await panel.boundingBox())!;
    expect(box.x).toBeGreaterThanOrEqual(0);
    expect(box.x + box.width).toBeLessThanOrEqual(390);
    await page.screenshot({ path: test.info().outputPath('phone-panel.png') });
  });
});

test('load older pages back and a linked notification opens its link', async ({ page, request }) => {
  const name = uniqueName('older');
  await signIn(page, name);
  for (let n = 1; n <= 24; n++) await publish(request, name, `Numbered ${n}`);
  await publish(request, name, 'Go to progress', { link: '/progress' });
  await expect(bell(page)).toHaveAccessibleName('Notifications, 25 unread');
  // A fresh page starts from a snapshot: the latest 20, with more to load.
  await page.reload();
  await expect(bell(page)).toHaveAccessibleName('Notifications, 25 unread');
  await bell(page).click();
  const panel = page.getByRole('dialog', { name: 'Notifications' });
  await expect(panel.getByRole('listitem')).toHaveCount(20);
  await panel.getByRole('button', { name: 'Load older' }).click();
  await expect(panel.getByRole('listitem')).toHaveCount(25);
  await expect(panel.getByRole('button', { name: 'Load older' })).toBeHidden();
  await expect(panel.getByTestId('notification-title').last()).toHaveText('Numbered 1');

  await panel.getByRole('button', { name: 'Go to progress (unread)' }).click();
  await expect(page).toHaveURL(/\/progress$/);
  await expect(bell(page)).toHaveAccessibleName('Notifications, 24 unread');
});

test.describe('before the page hydrates (JavaScript off)', () => {
  test.use({ javaScriptEnabled: false });

  test('signing in still lands on the dashboard, signed in', async ({ page, context }) => {
    const name = uniqueName('nojs');
    await page.goto('/sign-in');
    await page.getByLabel('Display name').fill(name);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page).toHaveURL(/\/notifications$/);
    const cookies = await context.cookies();
    expect(cookies.find((cookie) => cookie.name === 'belfry_session')?.httpOnly).toBe(true);
  });
});

test('signing out ends the session and lands on the sign-in page, signed out', async ({ page, context }) => {
  await signIn(page, uniqueName('leaver'));
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/sign-in$/);
  await expect(page.getByRole('link', { name: 'Sign in' })).toBeVisible();
  await expect(bell(page)).toHaveCount(0);
  const cookies = await context.cookies();
  expect(cookies.find((cookie) => cookie.name === 'belfry_session')).toBeUndefined();
});
