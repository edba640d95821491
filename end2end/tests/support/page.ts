// Opening a page the way a person does: load it, then wait until its
// islands have hydrated (page widgets load as separate WASM chunks, so a
// button can be on screen a moment before it does anything).
import { expect, type Page } from '@playwright/test';

/** Loads `url` in `page` and waits for `<body data-hydrated>`. */
export async function visit(page: Page, url: string): Promise<void> {
  await page.goto(url);
  await hydrated(page);
}

/** Waits until every island on the current page has hydrated. */
export async function hydrated(page: Page): Promise<void> {
  await expect(page.locator('body[data-hydrated]')).toHaveCount(1);
}
