// A measurement, not an assertion: the bytes a cold first load transfers
// (compressed, headers included, as Chromium counts them), by kind, for `/`
// and for `/notifications` signed in with the bell live. Prints one line per
// page and keeps the figures as an artifact (first-load.json). The live
// stream itself is left out: it never finishes loading.
import { expect, test, type Page } from '@playwright/test';
import { bellLive } from './support/inbox';
import { nowSecs, setSession } from './support/session';

type Kind = 'document' | 'js' | 'wasm' | 'css' | 'other';

function kindOf(url: string, mimeType: string, type: string): Kind {
  if (type === 'Document') return 'document';
  if (url.endsWith('.wasm') || mimeType === 'application/wasm') return 'wasm';
  if (type === 'Script' || mimeType.includes('javascript')) return 'js';
  if (type === 'Stylesheet' || mimeType === 'text/css') return 'css';
  return 'other';
}

async function coldLoad(page: Page, url: string, live: () => Promise<void>): Promise<Record<Kind | 'total', number>> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
  const kinds = new Map<string, Kind>();
  const bytes: Record<Kind | 'total', number> = { document: 0, js: 0, wasm: 0, css: 0, other: 0, total: 0 };
  cdp.on('Network.responseReceived', (event) => {
    if (event.response.mimeType !== 'text/event-stream') {
      kinds.set(event.requestId, kindOf(event.response.url, event.response.mimeType, event.type));
    }
  });
  cdp.on('Network.loadingFinished', (event) => {
    const kind = kinds.get(event.requestId);
    if (kind) {
      bytes[kind] += event.encodedDataLength;
      bytes.total += event.encodedDataLength;
    }
  });
  await page.goto(url);
  await expect(page.locator('body[data-hydrated]')).toHaveCount(1);
  await live();
  await page.waitForTimeout(500); // late stragglers (server function calls)
  return bytes;
}

test('measure: first-load bytes of / and of /notifications', async ({ browser, baseURL }) => {
  const report: Record<string, Record<string, number>> = {};
  const home = await browser.newContext();
  report['/'] = await coldLoad(await home.newPage(), `${baseURL}/`, async () => {
    const page = home.pages()[0];
    await expect(page.getByLabel('Current server time')).toHaveText(/^\d\d:\d\d:\d\d$/);
  });
  await home.close();

  const signedIn = await browser.newContext();
  await setSession(signedIn, baseURL ?? '', `firstload-${Date.now().toString(36)}`, nowSecs() + 3600);
  const page = await signedIn.newPage();
  report['/notifications'] = await coldLoad(page, `${baseURL}/notifications`, async () => {
    await bellLive(page);
  });
  await signedIn.close();

  for (const [path, bytes] of Object.entries(report)) {
    const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;
    console.log(
      `first load of ${path}: ${kb(bytes.total)} (document ${kb(bytes.document)}, JS ${kb(bytes.js)}, WASM ${kb(bytes.wasm)}, CSS ${kb(bytes.css)}, other ${kb(bytes.other)})`,
    );
  }
  await test.info().attach('first-load.json', { body: JSON.stringify(report, null, 2), contentType: 'application/json' });
});
