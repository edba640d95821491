// The topics page in Chromium: a user follows an open topic and leaves it;
// a required topic offers no leave button; a closed one is not offered.
import { expect, test, type APIRequestContext } from '@playwright/test';
import { signIn, uniqueName } from './support/inbox';
import { publishKey } from './support/server';
import { visit } from './support/page';

const auth = { Authorization: `Bearer ${publishKey}` };

async function defineTopic(request: APIRequestContext, key: string, body: Record<string, unknown>) {
  const response = await request.put(`/api/topics/${key}`, { headers: auth, data: body });
  expect(response.status()).toBe(201);
}

async function topicsOf(request: APIRequestContext, user: string): Promise<string[]> {
  const response = await request.get(`/api/users/${user}/topics`, { headers: auth });
  expect(response.status()).toBe(200);
  return (await response.json()).topics.map((topic: { key: string }) => topic.key);
}

test('a user follows an open topic, leaves it, and cannot leave a required one', async ({ page, request }) => {
  const tag = uniqueName('t').toLowerCase();
  const [open, required, closed] = [`${tag}-deploys`, `${tag}-security`, `${tag}-billing`];
  await defineTopic(request, open, { name: `Deploys ${tag}`, description: 'Every release', open: true });
  await defineTopic(request, required, { name: `Security ${tag}`, required: true });
  await defineTopic(request, closed, { name: `Billing ${tag}` });
  const alice = uniqueName('alice');
  const added = await request.post(`/api/topics/${required}/followers`, {
    headers: auth,
    data: { users: [alice] },
  });
  expect(added.status()).toBe(200);

  await signIn(page, alice);
  await visit(page, '/topics');
  const card = (key: string) => page.locator(`[data-testid="topic"][data-key="${key}"]`);
  await expect(card(open)).toHaveAttribute('data-following', 'false');
  await expect(card(open)).toContainText('Every release');
  await expect(card(required)).toHaveAttribute('data-following', 'true');
  await expect(card(required)).toContainText('Required');
  await expect(card(required).getByRole('button')).toHaveCount(0);
  await expect(card(closed)).toHaveCount(0);

  await card(open).getByRole('button', { name: `Follow Deploys ${tag}` }).click();
  await expect(page).toHaveURL(/\/topics$/);
  await expect(card(open)).toHaveAttribute('data-following', 'true');
  expect((await topicsOf(request, alice)).sort()).toEqual([open, required].sort());

  await card(open).getByRole('button', { name: `Leave Deploys ${tag}` }).click();
  await expect(card(open)).toHaveAttribute('data-following', 'false');
  expect(await topicsOf(request, alice)).toEqual([required]);
});
