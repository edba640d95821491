// A measurement, not an assertion: how long from POST /api/notifications to
// the toast being visible in Chromium. Prints the median of 20 and keeps the
// samples as an artifact (test-results/.../latency.json).
import { expect, test } from '@playwright/test';
import { publish, signIn, uniqueName } from './support/inbox';

test('measure: publish to visible toast, 20 samples', async ({ page, request }) => {
  test.setTimeout(90_000);
  const name = uniqueName('latency');
  await signIn(page, name);
  const samples: number[] = [];
  for (let i = 0; i < 20; i++) {
    const title = `Latency probe ${i}`;
    // The page records when the toast node appears, on the machine's clock.
    await page.evaluate((wanted) => {
      (window as any).__seen = new Promise<number>((resolve) => {
        const observer = new MutationObserver(() => {
          for (const node of document.querySelectorAll('[data-testid="toast"]')) {
            if (node.textContent?.includes(wanted)) {
              observer.disconnect();
              resolve(performance.timeOrigin + performance.now());
              return;
            }
          }
        });
        observer.observe(document.body, { childList: true, subtree: true });
      });
    }, title);
    const sent = Date.now();
    await publish(request, name, title);
    const seen = await page.evaluate(() => (window as any).__seen as Promise<number>);
    samples.push(seen - sent);
    await expect(page.getByTestId('toast').filter({ hasText: title })).toBeVisible();
  }
  const sorted = [...samples].sort((a, b) => a - b);
  const median = (sorted[9] + sorted[10]) / 2;
  const report = { samples, median_ms: median, min_ms: sorted[0], max_ms: sorted[19] };
  console.log(`publish→toast latency: median ${median.toFixed(1)} ms, min ${sorted[0].toFixed(1)}, max ${sorted[19].toFixed(1)} (n=20)`);
  await test.info().attach('latency.json', { body: JSON.stringify(report, null, 2), contentType: 'application/json' });
});
