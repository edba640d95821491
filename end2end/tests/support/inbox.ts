// Signing in and publishing, shared by the notification specs.
import { expect, type APIRequestContext, type Page } from '@playwright/test';
import { publishKey } from './server';
import { visit } from './page';

/** A user name no other test uses. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
}

/** Signs `page` in as `name` through the sign-in page. */
export async function signIn(page: Page, name: string, baseURL = ''): Promise<void> {
  await visit(page, `${baseURL}/sign-in`);
  await page.getByLabel('Display name').fill(name);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByTestId('signed-in-as')).toHaveText(name);
  await bellLive(page);
}

/** Waits until the bell's inbox snapshot arrived: from then on every new
 * notification arrives live (the server renders the bell with a count of 0
 * before the page's islands hydrate and the stream opens). */
export async function bellLive(page: Page): Promise<void> {
  await expect(bell(page)).toHaveAttribute('data-live', '');
}

/** The bell button. */
export function bell(page: Page) {
  return page.getByRole('button', { name: /^Notifications, \d+ unread$/ });
}

/** Publishes through the HTTP API with the publisher key; returns the ids. */
export async function publish(
  request: APIRequestContext,
  to: string | string[],
  title: string,
  extra: Record<string, unknown> = {},
  baseURL = '',
): Promise<string[]> {
  const response = await request.post(`${baseURL}/api/notifications`, {
    headers: { Authorization: `Bearer ${publishKey}` },
    data: { to, kind: 'info', title, body: 'From the API', ...extra },
  });
  expect(response.status()).toBe(201);
  return (await response.json()).ids;
}

/** Publishes as a careful backend does behind a proxy (docs/publishing.md):
 * with an `Idempotency-Key`, retried with the same key and body while the
 * answer is a 5xx. nginx answers 502 to a POST it had already sent to an
 * instance that then died, and does not resend a POST by itself; the key
 * makes the retry store it at most once. Returns the ids. */
export async function publishRetrying(
  request: APIRequestContext,
  to: string,
  title: string,
  baseURL = '',
): Promise<string[]> {
  const key = uniqueName('key');
  for (let attempt = 1; ; attempt += 1) {
    const response = await request.post(`${baseURL}/api/notifications`, {
      headers: { Authorization: `Bearer ${publishKey}`, 'Idempotency-Key': key },
      data: { to, kind: 'info', title, body: 'From the API' },
    });
    if (response.status() < 500 || attempt === 10) {
      expect(response.status()).toBe(201);
      return (await response.json()).ids;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
