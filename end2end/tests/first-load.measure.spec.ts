// A measurement, not an assertion: the bytes a cold first load transfers
// (compressed, headers included, as Chromium counts them), by kind, for `/`
// with the clock live and for `/notifications` signed in with the bell live.
// Then, for `/notifications`, the total once the code the bell fetches while
// the browser is idle (its panel and toasts) has arrived too. Prints one line
// per figure and keeps them as an artifact (first-load.json). The live
// stream itself is left out: it never finishes loading.
import { expect, test, type Page } from '@playwright/test';
import { bellLive } from './support/inbox';
import { nowSecs, setSession } from './support/session';
import { freePort, production, startServer } from './support/server';

type Kind = 'document' | 'js' | 'wasm' | 'css' | 'other';

function kindOf(url: string, mimeType: string, type: string): Kind {
  if (type === 'Document') return 'document';
  if (url.endsWith('.wasm') || mimeType === 'application/wasm') return 'wasm';
  if (type === 'Script' || mimeType.includes('javascript')) return 'js';
  if (type === 'Stylesheet' || mimeType === 'text/css') return 'css';
  return 'other';
}

type Bytes = Record<Kind | 'total', number>;

function empty(): Bytes {
  return { document: 0, js: 0, wasm: 0, css: 0, other: 0, total: 0 };
}

/** Loads `url` cold and waits until `live()` holds; with `idle`, waits for
 * that too. Returns the bytes of the requests the page sent before it was
 * ready (hydrated and live: the moment `readySelector` first matched,
 * recorded in the page), and, with `idle`, of every request by then. */
async function coldLoad(
  page: Page,
  url: string,
  live: () => Promise<void>,
  idle?: { selector: string; readySelector: string },
): Promise<Bytes[]> {
  if (idle) {
    // Wall-clock time (ms) at which the page first matched readySelector.
    await page.addInitScript((selector: string) => {
      const seen = () => {
        if (!(window as any).__liveAt && document.querySelector(selector)) {
          (window as any).__liveAt = performance.timeOrigin + performance.now();
        }
      };
      new MutationObserver(seen).observe(document, { subtree: true, childList: true, attributes: true });
    }, idle.readySelector);
  }
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
  const sentAt = new Map<string, number>();
  const kinds = new Map<string, Kind>();
  const finished: { kind: Kind; bytes: number; sentAt: number }[] = [];
  cdp.on('Network.requestWillBeSent', (event) => sentAt.set(event.requestId, event.wallTime * 1000));
  cdp.on('Network.responseReceived', (event) => {
    if (event.response.mimeType !== 'text/event-stream') {
      kinds.set(event.requestId, kindOf(event.response.url, event.response.mimeType, event.type));
    }
  });
  cdp.on('Network.loadingFinished', (event) => {
    const kind = kinds.get(event.requestId);
    if (kind) finished.push({ kind, bytes: event.encodedDataLength, sentAt: sentAt.get(event.requestId) ?? 0 });
  });
  const sum = (before: number) => {
    const bytes = empty();
    for (const request of finished.filter((r) => r.sentAt <= before)) {
      bytes[request.kind] += request.bytes;
      bytes.total += request.bytes;
    }
    return bytes;
  };
  await page.goto(url);
  await expect(page.locator('body[data-hydrated]')).toHaveCount(1);
  await live();
  if (!idle) {
    await page.waitForTimeout(500); // late stragglers (server function calls)
    return [sum(Infinity)];
  }
  await expect(page.locator(idle.selector)).toHaveCount(1);
  await page.waitForTimeout(500);
  const liveAt: number = await page.evaluate(() => (window as any).__liveAt);
  return [sum(liveAt), sum(Infinity)];
}

test('measure: first-load bytes of / and of /notifications', async ({ browser, baseURL }) => {
  const report: Record<string, Bytes> = {};
  const home = await browser.newContext();
  [report['/ (clock live)']] = await coldLoad(await home.newPage(), `${baseURL}/`, async () => {
    const page = home.pages()[0];
    await expect(page.getByLabel('Current server time')).toHaveText(/^\d\d:\d\d:\d\d$/);
  });
  await home.close();

  const signedIn = await browser.newContext();
  await setSession(signedIn, baseURL ?? '', `firstload-${Date.now().toString(36)}`, nowSecs() + 3600);
  const page = await signedIn.newPage();
  [report['/notifications (hydrated, bell live)'], report['/notifications (after idle prefetch of panel and toasts)']] = await coldLoad(
    page,
    `${baseURL}/notifications`,
    () => bellLive(page),
    { selector: '[data-panel-ready]', readySelector: 'body[data-hydrated] button[data-live]' },
  );
  await signedIn.close();

  // The default binary (no demo mode: no send form on the page).
  const server = await startServer(await freePort(), {}, production);
  try {
    const hosted = await browser.newContext();
    await setSession(hosted, server.url, `firstload-${Date.now().toString(36)}`, nowSecs() + 3600);
    const hostedPage = await hosted.newPage();
    [report['/notifications, default binary (hydrated, bell live)']] = await coldLoad(
      hostedPage,
      `${server.url}/notifications`,
      () => bellLive(hostedPage),
      { selector: '[data-panel-ready]', readySelector: 'body[data-hydrated] button[data-live]' },
    );
    await hosted.close();
  } finally {
    await server.stop();
  }

  for (const [path, bytes] of Object.entries(report)) {
    const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;
    console.log(
      `first load of ${path}: ${kb(bytes.total)} (document ${kb(bytes.document)}, JS ${kb(bytes.js)}, WASM ${kb(bytes.wasm)}, CSS ${kb(bytes.css)}, other ${kb(bytes.other)})`,
    );
  }
  await test.info().attach('first-load.json', { body: JSON.stringify(report, null, 2), contentType: 'application/json' });
});
