// After the server restarts, the page reconnects by itself.
import { expect, test } from '@playwright/test';
import { freePort, startServer } from './support/server';
import { visit } from './support/page';

test('the clock reconnects after the server restarts', async ({ page }) => {
  const port = await freePort();
  let server = await startServer(port, { BELFRY_RETRY_MS: '500' });
  try {
    await visit(page, `${server.url}/`);
    const clock = page.getByLabel('Current server time');
    await expect(page.getByRole('status', { name: 'Live connection: open' })).toBeVisible();
    await expect(clock).toHaveText(/^\d\d:\d\d:\d\d$/);

    // Graceful shutdown ends the stream; the process exits cleanly.
    expect(await server.stop()).toBe(0);
    await expect(page.getByRole('status', { name: 'Live connection: open' })).toBeHidden();

    server = await startServer(port, { BELFRY_RETRY_MS: '500' });
    await expect(page.getByRole('status', { name: 'Live connection: open' })).toBeVisible({ timeout: 15_000 });
    const after = (await clock.textContent()) ?? '';
    await expect(clock).not.toHaveText(after, { timeout: 3_000 });
  } finally {
    await server.stop();
  }
});
