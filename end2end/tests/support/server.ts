// Starting and stopping extra Belfry servers from a test (for restarts and,
// later, several instances), plus the Chromium settings every test shares.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';

export const repoRoot = path.resolve(__dirname, '..', '..', '..');
export const serverBinary = path.join(repoRoot, 'target', 'release', 'belfry');

// Debian's Chromium; Playwright never downloads a browser here.
export const chromiumLaunchOptions = {
  executablePath: process.env.BELFRY_CHROMIUM ?? '/usr/bin/chromium',
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
};

/** The publisher key every test server accepts. */
export const publishKey = 'e2e-publisher-key';

/** The session secret of every test server (specs mint tokens with it). */
export const sessionSecret = 'e2e-session-secret-of-enough-length';

/**
 * Settings every test server runs with: demo mode (the suite signs in by
 * name and sends to other users) and no rate limits (the suite exercises
 * features; the integration tests prove the limits). Specs that check the
 * production defaults start their own server without these.
 */
export const serverEnv: Record<string, string> = {
  BELFRY_LOG: 'warn',
  BELFRY_PUBLISH_KEY: publishKey,
  BELFRY_SESSION_SECRET: sessionSecret,
  BELFRY_RETRY_MS: '500',
  BELFRY_DRAIN_SECS: '1',
  BELFRY_DEMO: '1',
  BELFRY_PUBLISH_RATE: '0',
  BELFRY_SIGN_IN_RATE_PER_MIN: '0',
  BELFRY_SEND_RATE_PER_MIN: '0',
  BELFRY_FEED_CHANGE_RATE_PER_MIN: '0',
};

/** A free TCP port on 127.0.0.1. */
/** The binary's defaults: no demo mode, every limit on (use as `base`
 * of [`startServer`]). */
export const production: Record<string, string> = {
  BELFRY_LOG: 'warn',
  BELFRY_PUBLISH_KEY: publishKey,
  BELFRY_SESSION_SECRET: sessionSecret,
  BELFRY_RETRY_MS: '500',
  BELFRY_DRAIN_SECS: '1',
};

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

export interface RunningServer {
  port: number;
  url: string;
  process: ChildProcess;
  /** Sends SIGTERM and resolves with the exit code once the process ended. */
  stop(): Promise<number | null>;
}

/** Starts the release server on `port` and waits until /healthz answers. */
export async function startServer(
  port: number,
  env: Record<string, string> = {},
  base: Record<string, string> = serverEnv,
  cwd: string = repoRoot,
): Promise<RunningServer> {
  const child = spawn(serverBinary, [], {
    cwd,
    env: { ...process.env, ...base, BELFRY_ADDR: `127.0.0.1:${port}`, ...env },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode} during start-up`);
    try {
      const response = await fetch(`${url}/healthz`);
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`server on ${port} did not become healthy`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    port,
    url,
    process: child,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}
