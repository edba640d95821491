// Two Belfry instances on two ports sharing one Redis: what one publishes,
// the other delivers; what one marks read, the other shows.
import { expect, test } from '@playwright/test';
import { bell, bellLive, publish, signIn, uniqueName } from './support/inbox';
import { startRedis, type RunningRedis } from './support/redis';
import { freePort, startServer, type RunningServer } from './support/server';
import { visit } from './support/page';

let redis: RunningRedis;
let a: RunningServer;
let b: RunningServer;

test.beforeAll(async () => {
  redis = await startRedis();
  a = await startServer(await freePort(), { REDIS_URL: redis.url });
  b = await startServer(await freePort(), { REDIS_URL: redis.url });
});

test.afterAll(async () => {
  await a?.stop();
  await b?.stop();
  await redis?.stop();
});

test('a tab on A gets what B publishes, and a mark-read on A shows in a tab on B', async ({ browser, request }) => {
  const alice = uniqueName('alice');
  const onA = await (await browser.newContext()).newPage();
  const onB = await (await browser.newContext()).newPage();
  await signIn(onA, alice, a.url);
  await signIn(onB, alice, b.url);
  await expect(bell(onA)).toHaveAccessibleName('Notifications, 0 unread');
  await expect(bell(onB)).toHaveAccessibleName('Notifications, 0 unread');

  await publish(request, alice, 'Published through B', {}, b.url);
  await expect(onA.getByTestId('toast').filter({ hasText: 'Published through B' })).toBeVisible();
  await expect(bell(onA)).toHaveAccessibleName('Notifications, 1 unread');
  await expect(bell(onB)).toHaveAccessibleName('Notifications, 1 unread');

  await bell(onA).click();
  const panel = onA.getByRole('dialog', { name: 'Notifications' });
  await panel.getByRole('button', { name: 'Published through B (unread)' }).click();
  await expect(bell(onA)).toHaveAccessibleName('Notifications, 0 unread');
  await expect(bell(onB)).toHaveAccessibleName('Notifications, 0 unread');

  // B serves the same inbox after a reload: state lives in Redis.
  await onB.reload();
  await expect(bell(onB)).toHaveAccessibleName('Notifications, 0 unread');
  await bell(onB).click();
  await expect(
    onB.getByRole('dialog', { name: 'Notifications' }).getByRole('button', { name: 'Published through B', exact: true }),
  ).toBeVisible();
});

test('the UI of A sends to a user whose tab is on B', async ({ browser }) => {
  const bob = uniqueName('bob');
  const carol = uniqueName('carol');
  const bobOnA = await (await browser.newContext()).newPage();
  const carolOnB = await (await browser.newContext()).newPage();
  await signIn(bobOnA, bob, a.url);
  await signIn(carolOnB, carol, b.url);

  await visit(bobOnA, `${a.url}/notifications`);
  await bellLive(bobOnA);
  const form = bobOnA.getByRole('region', { name: 'Send to a user' });
  await form.getByLabel('Recipient').fill(carol);
  await form.getByLabel('Title').fill('Across instances');
  await form.getByRole('button', { name: 'Send' }).click();
  await expect(carolOnB.getByTestId('toast').filter({ hasText: 'Across instances' })).toBeVisible();
  await expect(bell(carolOnB)).toHaveAccessibleName('Notifications, 1 unread');
  await expect(bell(bobOnA)).toHaveAccessibleName('Notifications, 0 unread');
});

test('a task started on A shows on B after a reload and finishes there', async ({ browser }) => {
  const worker = uniqueName('worker');
  const onA = await (await browser.newContext()).newPage();
  const onB = await (await browser.newContext()).newPage();
  await signIn(onA, worker, a.url);
  await signIn(onB, worker, b.url);
  await visit(onA, `${a.url}/progress`);
  await onA.getByLabel('Task name').fill('Started on A');
  await onA.getByRole('button', { name: 'Start' }).click();
  await expect(onA.getByRole('listitem', { name: 'Task Started on A' })).toBeVisible();

  await visit(onB, `${b.url}/progress`);
  const card = onB.getByRole('listitem', { name: 'Task Started on A' });
  await expect(card).toBeVisible();
  await expect(card.getByTestId('status')).toHaveText('completed', { timeout: 15_000 });
  await expect(card.getByTestId('percent')).toHaveText('100%');
});
