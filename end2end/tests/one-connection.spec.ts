// One connection per browser: every feed of every tab over one stream,
// held by a leader tab (Web Locks) and relayed to the others
// (BroadcastChannel), over plain HTTP/1.1, where Chromium allows only six
// connections per site. Each test runs its own server, so the open-stream
// gauge counts only its own tabs.
import { expect, test, type APIRequestContext, type Page } from '@playwright/test';
import { bell, bellLive, publish, signIn, uniqueName } from './support/inbox';
import { freePort, startServer, type RunningServer } from './support/server';
import { visit } from './support/page';

async function metric(request: APIRequestContext, server: RunningServer, name: string): Promise<number> {
  const text = await (await request.get(`${server.url}/metrics`)).text();
  return Number(text.match(new RegExp(`^${name} (\\d+)`, 'm'))?.[1] ?? NaN);
}

const openStreams = (request: APIRequestContext, server: RunningServer) =>
  metric(request, server, 'belfry_sse_open_streams');
const streamsOpened = (request: APIRequestContext, server: RunningServer) =>
  metric(request, server, 'belfry_sse_streams_opened_total');

function toasts(page: Page, title: string) {
  return page.getByTestId('toast').filter({ hasText: title });
}

async function openTabs(page: Page, server: RunningServer, count: number, path: string): Promise<Page[]> {
  const tabs = [page];
  for (let i = 1; i < count; i++) {
    const tab = await page.context().newPage();
    await visit(tab, `${server.url}${path}`);
    await bellLive(tab);
    tabs.push(tab);
  }
  return tabs;
}

let server: RunningServer;

test.beforeEach(async () => {
  server = await startServer(await freePort(), { BELFRY_TASK_STEP_MS: '1000' });
});

test.afterEach(async () => {
  await server?.stop();
});

test('eight tabs of one user: a notification reaches all eight within 1 s, over one stream', async ({ browser, request }) => {
  const alice = uniqueName('alice');
  const context = await browser.newContext();
  const first = await context.newPage();
  await signIn(first, alice, server.url);
  await visit(first, `${server.url}/notifications`);
  const tabs = await openTabs(first, server, 8, '/notifications');

  await expect.poll(() => openStreams(request, server)).toBe(1);
  await publish(request, alice, 'To every tab', {}, server.url);
  for (const tab of tabs) {
    await expect(toasts(tab, 'To every tab')).toHaveCount(1, { timeout: 1_000 });
    await expect(bell(tab)).toHaveAccessibleName('Notifications, 1 unread');
  }
  expect(await openStreams(request, server)).toBe(1);
  await context.close();
});

test('a tab of another protocol version leading does not mute a new tab: each version leads its own stream', async ({ browser, request }) => {
  const alice = uniqueName('alice');
  const context = await browser.newContext();
  const old = await context.newPage();
  await signIn(old, alice, server.url);
  // A tab of the old bundle, as after a deploy: it holds the lock and the
  // channel of the first, unversioned tab protocol and relays nothing a
  // new tab could read.
  await old.goto(`${server.url}/healthz`);
  await old.evaluate(() => {
    void navigator.locks.request('belfry-feeds', () => new Promise(() => {}));
    new BroadcastChannel('belfry-feeds').postMessage(JSON.stringify({ t: 'leader', tab: 'old', v: 1 }));
  });
  await expect
    .poll(() => old.evaluate(async () => (await navigator.locks.query()).held?.map((lock) => lock.name)))
    .toContain('belfry-feeds');

  const page = await context.newPage();
  await visit(page, `${server.url}/notifications`);
  await bellLive(page);
  await publish(request, alice, 'Across versions', {}, server.url);
  await expect(toasts(page, 'Across versions')).toHaveCount(1);
  await expect(bell(page)).toHaveAccessibleName('Notifications, 1 unread');
  await expect.poll(() => openStreams(request, server)).toBe(1);
  await context.close();
});

test('six tasks running at once all progress, over one stream', async ({ browser, request }) => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await signIn(page, uniqueName('worker'), server.url);
  await visit(page, `${server.url}/progress`);
  const names = ['One', 'Two', 'Three', 'Four', 'Five', 'Six'];
  for (const name of names) {
    await page.getByLabel('Task name').fill(name);
    await page.getByRole('button', { name: 'Start' }).click();
    await expect(page.getByRole('listitem', { name: `Task ${name}` })).toBeVisible();
  }
  for (const name of names) {
    const card = page.getByRole('listitem', { name: `Task ${name}` });
    await expect(card.getByTestId('status')).toHaveText('processing');
    await expect(card.getByTestId('percent')).not.toHaveText('0%');
  }
  expect(await openStreams(request, server)).toBe(1);
  for (const name of names) {
    const card = page.getByRole('listitem', { name: `Task ${name}` });
    await expect(card.getByTestId('status')).toHaveText('completed', { timeout: 20_000 });
  }
  await context.close();
});

test('closing the leader tab: another takes over within 2 s, and what is published meanwhile shows once in every tab', async ({ browser, request }) => {
  const alice = uniqueName('alice');
  const context = await browser.newContext();
  const leader = await context.newPage();
  await signIn(leader, alice, server.url);
  const tabs = await openTabs(leader, server, 3, '/notifications');
  await expect.poll(() => openStreams(request, server)).toBe(1);
  const opened = await streamsOpened(request, server);

  await leader.close();
  const closedAt = Date.now();
  const published = publish(request, alice, 'During the handover', {}, server.url);
  // A new leader opened the one stream again: one more opened, one open.
  await expect
    .poll(async () => [await streamsOpened(request, server), await openStreams(request, server)], {
      timeout: 2_000,
      intervals: [50],
    })
    .toEqual([opened + 1, 1]);
  expect(Date.now() - closedAt).toBeLessThan(2_000);
  await published;
  for (const tab of tabs.slice(1)) {
    await expect(toasts(tab, 'During the handover')).toHaveCount(1);
    await expect(bell(tab)).toHaveAccessibleName('Notifications, 1 unread');
  }
  // Still exactly once a moment later (no late duplicate from a replay).
  await tabs[1].waitForTimeout(500);
  for (const tab of tabs.slice(1)) {
    await bell(tab).click();
    const panel = tab.getByRole('dialog', { name: 'Notifications' });
    await expect(panel.getByTestId('notification-title').filter({ hasText: 'During the handover' })).toHaveCount(1);
  }
  await context.close();
});

test('offline, then back: the inbox and a task each get exactly what they missed', async ({ browser, request }) => {
  const alice = uniqueName('alice');
  const context = await browser.newContext();
  const page = await context.newPage();
  await signIn(page, alice, server.url);
  await visit(page, `${server.url}/progress`);
  await page.getByLabel('Task name').fill('Offline');
  await page.getByRole('button', { name: 'Start' }).click();
  const card = page.getByRole('listitem', { name: 'Task Offline' });
  await expect(card.getByTestId('status')).toHaveText('processing');
  await publish(request, alice, 'Seen before', {}, server.url);
  await expect(bell(page)).toHaveAccessibleName('Notifications, 1 unread');

  await context.setOffline(true);
  const frozen = (await card.getByTestId('percent').textContent()) ?? '';
  await publish(request, alice, 'Missed while offline', {}, server.url);
  await page.waitForTimeout(1_500); // the task moves on meanwhile
  await expect(card.getByTestId('percent')).toHaveText(frozen);
  await context.setOffline(false);

  await expect(toasts(page, 'Missed while offline')).toHaveCount(1, { timeout: 10_000 });
  await expect(bell(page)).toHaveAccessibleName('Notifications, 2 unread');
  await expect(card.getByTestId('percent')).not.toHaveText(frozen);
  await expect(card.getByTestId('status')).toHaveText('completed', { timeout: 20_000 });
  await bell(page).click();
  const panel = page.getByRole('dialog', { name: 'Notifications' });
  await expect(panel.getByRole('listitem')).toHaveCount(2);
  await expect(toasts(page, 'Seen before')).toHaveCount(0);
  await context.close();
});

test('at phone width, with the panel open, a new notification shows in the panel and raises no toast', async ({ browser, request }) => {
  const alice = uniqueName('alice');
  const context = await browser.newContext({ viewport: { width: 375, height: 740 } });
  const page = await context.newPage();
  await signIn(page, alice, server.url);
  await publish(request, alice, 'Before opening', {}, server.url);
  await expect(bell(page)).toHaveAccessibleName('Notifications, 1 unread');
  await bell(page).click();
  const panel = page.getByRole('dialog', { name: 'Notifications' });
  await expect(panel).toBeVisible();
  await expect(page.getByTestId('toast')).toHaveCount(0);

  await publish(request, alice, 'Arrived with the panel open', {}, server.url);
  const row = panel.getByRole('listitem').filter({ hasText: 'Arrived with the panel open' });
  await expect(row).toBeVisible();
  await expect(row.getByTestId('new-badge')).toHaveText('New');
  await expect(page.getByTestId('toast')).toHaveCount(0);
  await expect(panel).toBeInViewport();
  await context.close();
});
