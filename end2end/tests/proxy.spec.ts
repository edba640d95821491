// The deployment path: Debian's nginx, configured with deploy/nginx/, in
// front of three instances on one Redis, each run from outside the
// repository (BELFRY_SITE_ROOT). The browser only ever talks to nginx:
// over plain HTTP, and over belfry.conf's TLS block with HTTP/2 (its
// plain-HTTP block only redirects there).
import { expect, test, type Page } from '@playwright/test';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { bell, bellLive, publish, publishRetrying, signIn, uniqueName } from './support/inbox';
import { startNginx, type RunningNginx } from './support/nginx';
import { startRedis, type RunningRedis } from './support/redis';
import { freePort, repoRoot, startServer, type RunningServer } from './support/server';
import { mintToken, nowSecs } from './support/session';

let redis: RunningRedis;
let instances: RunningServer[] = [];
let proxy: RunningNginx;

test.describe.configure({ mode: 'serial' });

test.beforeAll(async () => {
  redis = await startRedis();
  const env = {
    REDIS_URL: redis.url,
    BELFRY_CLIENT_IP_HEADER: 'X-Real-IP',
    BELFRY_SITE_ROOT: path.join(repoRoot, 'target', 'site'),
  };
  for (let i = 0; i < 3; i += 1) {
    instances.push(await startServer(await freePort(), env, undefined, tmpdir()));
  }
  proxy = await startNginx(instances.map((instance) => instance.port));
});

test.afterAll(async () => {
  await proxy?.stop();
  for (const instance of instances) await instance.stop();
  await redis?.stop();
});

/** Whether `instance` is still running (a test kills one). */
function isAlive(instance: RunningServer): boolean {
  return instance.process.exitCode === null && instance.process.signalCode === null;
}

/** Open SSE streams on each live instance, by its /metrics. */
async function openStreams(): Promise<Map<RunningServer, number>> {
  const counts = new Map<RunningServer, number>();
  for (const instance of instances) {
    if (!isAlive(instance)) continue;
    const text = await (await fetch(`${instance.url}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith('belfry_sse_open_streams '));
    counts.set(instance, Number(line?.split(' ')[1] ?? 0));
  }
  return counts;
}

/** The instance on which the stream `open` opened (compared to `before`). */
async function holderOf(before: Map<RunningServer, number>, open: () => Promise<void>): Promise<RunningServer> {
  await open();
  let holder: RunningServer | undefined;
  await expect(async () => {
    const after = await openStreams();
    holder = [...after].find(([instance, count]) => count > (before.get(instance) ?? 0))?.[0];
    expect(holder).toBeDefined();
  }).toPass();
  return holder!;
}

/** The notification rows of the bell's panel with `title`, read or not. */
function rows(page: Page, title: string) {
  return page
    .getByRole('dialog', { name: 'Notifications' })
    .getByRole('button', { name: new RegExp(`^${title}( \\(unread\\))?$`) });
}

test('a notification sent through one instance reaches a browser held by another', async ({ browser, request }) => {
  const alice = uniqueName('alice');
  const page = await (await browser.newContext()).newPage();
  const before = await openStreams();
  const holder = await holderOf(before, () => signIn(page, alice, proxy.url));
  const other = instances.find((instance) => instance !== holder)!;

  await publish(request, alice, 'Through another instance', {}, other.url);
  await expect(page.getByTestId('toast').filter({ hasText: 'Through another instance' })).toBeVisible();
  await publish(request, alice, 'Through the proxy', {}, proxy.url);
  await expect(page.getByTestId('toast').filter({ hasText: 'Through the proxy' })).toBeVisible();
  await expect(bell(page)).toHaveAccessibleName('Notifications, 2 unread');
  await page.context().close();
});

test('killing the instance a browser is on moves it to another through nginx, losing nothing and repeating nothing', async ({
  browser,
  request,
}) => {
  const bob = uniqueName('bob');
  const page = await (await browser.newContext()).newPage();
  const before = await openStreams();
  const holder = await holderOf(before, () => signIn(page, bob, proxy.url));
  const [firstId] = await publish(request, bob, 'Before the crash', {}, proxy.url);
  await expect(page.getByTestId('toast').filter({ hasText: 'Before the crash' })).toBeVisible();

  holder.process.kill('SIGKILL');
  // Published while the browser has no stream: nginx passes it to a live
  // instance, and it is in Redis for the replay. Right after the kill,
  // nginx may still send it down a kept-alive connection to the dead
  // instance and answer 502: the publisher retries with its key, and the
  // panel below proves it was stored once.
  const [secondId] = await publishRetrying(request, bob, 'While it was down', proxy.url);

  await expect(page.getByTestId('toast').filter({ hasText: 'While it was down' })).toBeVisible({ timeout: 15_000 });
  await bellLive(page);
  await expect(bell(page)).toHaveAccessibleName('Notifications, 2 unread');
  const now = await openStreams();
  expect([...now.values()].reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
  await bell(page).click();
  await expect(rows(page, 'Before the crash')).toHaveCount(1);
  await expect(rows(page, 'While it was down')).toHaveCount(1);

  // The same resume by `Last-Event-ID`, as any SSE client does it, through
  // nginx to a surviving instance: exactly what came after the id.
  const controller = new AbortController();
  const response = await fetch(`${proxy.url}/api/sse/inbox`, {
    headers: { Cookie: `belfry_session=${mintToken(bob, nowSecs() + 600)}`, 'Last-Event-ID': firstId },
    signal: controller.signal,
  });
  expect(response.status).toBe(200);
  const reader = response.body!.getReader();
  let text = '';
  const deadline = Date.now() + 5_000;
  while (!text.includes(`id: ${secondId}`) && Date.now() < deadline) {
    const { value, done } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  controller.abort();
  expect(text).toContain(`id: ${secondId}`);
  expect(text).not.toContain(`id: ${firstId}`);
  await page.context().close();
});

test("over belfry.conf's TLS block the browser speaks HTTP/2, and its event stream shares the page's connection", async ({
  browser,
  request,
}) => {
  const carol = uniqueName('carol');
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  await signIn(page, carol, proxy.tlsUrl);
  const protocols = await page.evaluate(() =>
    performance.getEntriesByType('navigation').map((entry) => (entry as PerformanceNavigationTiming).nextHopProtocol),
  );
  expect(protocols).toEqual(['h2']);

  // The stream is live over HTTP/2 through nginx (buffering off on h2 too).
  const live = instances.find(isAlive)!;
  await publish(request, carol, 'Over HTTP/2', {}, live.url);
  await expect(page.getByTestId('toast').filter({ hasText: 'Over HTTP/2' })).toBeVisible();
  await context.close();

  // nginx logs a request when it ends: closing the browser ended the stream.
  let log: string[] = [];
  await expect(async () => {
    log = proxy.tlsAccessLog().trim().split('\n');
    expect(log.some((line) => line.includes(' /api/sse/'))).toBe(true);
  }).toPass();
  const lines = log.map((line) => line.split(' '));
  expect(lines.filter((line) => line[1] !== 'HTTP/2.0')).toEqual([]);
  // The page, its assets and its server functions came over the stream's
  // connection: one TCP connection per browser, not one per request.
  const stream = lines.find((line) => line[3].startsWith('/api/sse/'))!;
  const others = lines.filter((line) => line !== stream && line[0] === stream[0]);
  expect(others.length).toBeGreaterThan(0);
});

test("belfry.conf's plain-HTTP block only redirects to HTTPS, keeping the path and query", async () => {
  for (const target of ['/notifications?from=mail', '/api/sse/inbox', '/api/notifications']) {
    const response = await fetch(`${proxy.redirectUrl}${target}`, { redirect: 'manual' });
    expect(response.status).toBe(301);
    expect(response.headers.get('location')).toBe(`https://127.0.0.1${target}`);
  }
});
