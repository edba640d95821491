// Minting session tokens the way a host application does: HS256 over
// {"sub", "exp"} with the shared BELFRY_SESSION_SECRET (docs/publishing.md).
import { createHmac } from 'node:crypto';
import type { BrowserContext } from '@playwright/test';
import { sessionSecret } from './server';

function base64url(text: string | Buffer): string {
  return Buffer.from(text).toString('base64url');
}

/** A token for `user` that expires at `exp` (Unix seconds). */
export function mintToken(user: string, exp: number, secret = sessionSecret): string {
  const input = `${base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))}.${base64url(JSON.stringify({ sub: user, exp }))}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

/** Now, in Unix seconds. */
export function nowSecs(): number {
  return Math.floor(Date.now() / 1000);
}

/** Sets the session cookie of `context` for `url`, as a host app would. */
export async function setSession(context: BrowserContext, url: string, user: string, exp: number): Promise<void> {
  await context.addCookies([
    { name: 'belfry_session', value: mintToken(user, exp), url, httpOnly: true, sameSite: 'Lax' },
  ]);
}
