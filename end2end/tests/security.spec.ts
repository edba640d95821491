// Production defaults, seen in Chromium: sessions come from the host app,
// a session's end ends its streams without losing anything, and a hostile
// link written straight into Redis is never followed.
import { execFileSync } from 'node:child_process';
import { expect, test } from '@playwright/test';
import { bell, bellLive, publish, uniqueName } from './support/inbox';
import { startRedis, type RunningRedis } from './support/redis';
import { nowSecs, setSession } from './support/session';
import { freePort, production, publishKey, repoRoot, startServer, type RunningServer } from './support/server';
import { visit } from './support/page';


test.describe('the default binary', () => {
  let server: RunningServer;
  test.beforeAll(async () => {
    server = await startServer(await freePort(), { BELFRY_SESSION_LEEWAY_SECS: '0' }, production);
  });
  test.afterAll(async () => {
    await server?.stop();
  });

  test('offers no sign-in form, and a host-minted session opens the inbox', async ({ page, context }) => {
    await visit(page, `${server.url}/sign-in`);
    await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible();
    await expect(page.getByText('Sign in there')).toBeVisible();
    await expect(page.getByLabel('Display name')).toHaveCount(0);
    await expect(page.getByRole('textbox')).toHaveCount(0);

    const user = uniqueName('host');
    await setSession(context, server.url, user, nowSecs() + 3600);
    await visit(page, `${server.url}/notifications`);
    await expect(page.getByTestId('signed-in-as')).toHaveText(user);
    await expect(bell(page)).toHaveAccessibleName('Notifications, 0 unread');
    // No form to write into somebody else's inbox.
    await expect(page.getByRole('heading', { name: 'Send to a user' })).toHaveCount(0);
  });

  test('an expired session ends the stream; after the host re-mints the cookie, what was published in the gap arrives once', async ({
    page,
    context,
    request,
  }) => {
    test.setTimeout(60_000);
    const user = uniqueName('expiring');
    // Long enough to open the page and see one notification arrive live
    // on a busy machine (two workers, Chromium and the server on 2 cores).
    const expires = nowSecs() + 8;
    await setSession(context, server.url, user, expires);
    await visit(page, `${server.url}/notifications`);
    await bellLive(page);
    await expect(bell(page)).toHaveAccessibleName('Notifications, 0 unread');
    await publish(request, user, 'Before the gap', {}, server.url);
    await expect(bell(page)).toHaveAccessibleName('Notifications, 1 unread');

    // The token runs out; the server ends the stream with `session_end`.
    await expect
      .poll(async () => (await (await request.get(`${server.url}/metrics`)).text()).match(/^belfry_sse_open_streams (\d+)/m)?.[1], {
        timeout: 15_000,
      })
      .toBe('0');

    await publish(request, user, 'Sent during the gap', {}, server.url);
    await page.waitForTimeout(1500);
    await expect(page.getByTestId('toast').filter({ hasText: 'Sent during the gap' })).toHaveCount(0);

    // The host app refreshes the session: the browser resumes by itself.
    await setSession(context, server.url, user, nowSecs() + 3600);
    await expect(page.getByTestId('toast').filter({ hasText: 'Sent during the gap' })).toHaveCount(1, { timeout: 20_000 });
    await expect(bell(page)).toHaveAccessibleName('Notifications, 2 unread');
    await page.waitForTimeout(1000);
    await expect(page.getByTestId('toast').filter({ hasText: 'Sent during the gap' })).toHaveCount(1);
    await bell(page).click();
    const panel = page.getByRole('dialog', { name: 'Notifications' });
    await expect(panel.getByTestId('notification-title').filter({ hasText: 'Sent during the gap' })).toHaveCount(1);
  });
});

test.describe('a link written straight into Redis', () => {
  let redis: RunningRedis;
  let server: RunningServer;
  test.beforeAll(async () => {
    redis = await startRedis();
    server = await startServer(await freePort(), { REDIS_URL: redis.url });
  });
  test.afterAll(async () => {
    await server?.stop();
    await redis?.stop();
  });

  test('a javascript: link neither navigates nor runs when clicked', async ({ page, context }) => {
    const user = uniqueName('victim');
    await setSession(context, server.url, user, nowSecs() + 3600);
    await visit(page, `${server.url}/notifications`);
    await bellLive(page);
    await expect(bell(page)).toHaveAccessibleName('Notifications, 0 unread');
    let dialogs = 0;
    page.on('dialog', async (dialog) => {
      dialogs += 1;
      await dialog.dismiss();
    });

    // The documented contract (docs/publishing.md), bypassing the API's checks.
    const payload = JSON.stringify({
      kind: 'warning',
      title: 'Click me',
      body: 'A link the API would refuse',
      link: 'javascript:window.__pwned=1;alert(1)',
      created_at: new Date().toISOString(),
    });
    execFileSync(
      'redis-cli',
      ['-u', redis.url, '--eval', 'src/engine/redis/publish.lua', `belfry:{${user}}:inbox`, ',', `belfry:{${user}}:inbox`, 'notification', payload, '500'],
      { cwd: repoRoot },
    );
    await expect(bell(page)).toHaveAccessibleName('Notifications, 1 unread');
    const before = page.url();
    await bell(page).click();
    await page
      .getByRole('dialog', { name: 'Notifications' })
      .getByRole('button', { name: 'Click me (unread)' })
      .click();
    // Clicking still marks it read, and nothing else happens.
    await expect(bell(page)).toHaveAccessibleName('Notifications, 0 unread');
    await page.waitForTimeout(500);
    expect(page.url()).toBe(before);
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    expect(dialogs).toBe(0);
  });
});
