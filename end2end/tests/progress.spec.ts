// The progress tracker in Chromium: several tasks at once, failure, cancel,
// and a reload that keeps the session's tasks.
import { expect, test, type Page } from '@playwright/test';
import { signIn, uniqueName } from './support/inbox';
import { visit } from './support/page';

function card(page: Page, name: string) {
  return page.getByRole('listitem', { name: `Task ${name}` });
}

test('two tasks run at once; both bars reach 100 % and "completed", and a reload keeps them', async ({ page }) => {
  await signIn(page, uniqueName('worker'));
  await visit(page, '/progress');
  const name = page.getByLabel('Task name');
  const start = page.getByRole('button', { name: 'Start' });
  await expect(start).toBeDisabled();

  await name.fill('Alpha');
  await name.press('Enter');
  await expect(card(page, 'Alpha')).toBeVisible();
  await expect(name).toHaveValue('');
  await name.fill('Beta');
  await start.click();
  await expect(card(page, 'Beta')).toBeVisible();

  // Both run at the same time.
  await expect(card(page, 'Alpha').getByTestId('status')).toHaveText('processing');
  await expect(card(page, 'Beta').getByTestId('status')).toHaveText('processing');
  for (const task of ['Alpha', 'Beta']) {
    const item = card(page, task);
    await expect(item.getByTestId('status')).toHaveText('completed', { timeout: 15_000 });
    await expect(item.getByTestId('percent')).toHaveText('100%');
    await expect(item.getByRole('progressbar')).toHaveAttribute('aria-valuenow', '100');
    await expect(item.getByTestId('message')).toHaveText(`Task "${task}" completed successfully!`);
    await expect(item.getByTestId('done')).toBeVisible();
  }

  await page.reload();
  await expect(card(page, 'Alpha').getByTestId('status')).toHaveText('completed');
  await expect(card(page, 'Beta').getByTestId('status')).toHaveText('completed');
});

test('a task started with "Fail at random" ends as failed with a reason', async ({ page }) => {
  await signIn(page, uniqueName('worker'));
  await visit(page, '/progress');
  await page.getByLabel('Fail at random').check();
  await page.getByLabel('Task name').fill('Doomed');
  await page.getByRole('button', { name: 'Start' }).click();
  const item = card(page, 'Doomed');
  await expect(item.getByTestId('status')).toHaveText('failed', { timeout: 15_000 });
  await expect(item.getByTestId('message')).toContainText('failed:');
  await expect(item.getByTestId('done')).toBeHidden();
  await expect(item.getByRole('button', { name: 'Cancel' })).toBeHidden();
});

test('cancel stops a running task', async ({ page }) => {
  await signIn(page, uniqueName('worker'));
  await visit(page, '/progress');
  await page.getByLabel('Task name').fill('Stoppable');
  await page.getByRole('button', { name: 'Start' }).click();
  const item = card(page, 'Stoppable');
  await expect(item.getByTestId('status')).toHaveText('processing');
  await item.getByRole('button', { name: 'Cancel' }).click();
  await expect(item.getByTestId('status')).toHaveText('cancelled');
  const percent = await item.getByTestId('percent').textContent();
  // It stays cancelled: the runner stopped.
  await page.waitForTimeout(2_500);
  await expect(item.getByTestId('status')).toHaveText('cancelled');
  await expect(item.getByTestId('percent')).toHaveText(percent ?? '');
  await page.reload();
  await expect(card(page, 'Stoppable').getByTestId('status')).toHaveText('cancelled');
});
