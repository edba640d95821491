import { defineConfig } from '@playwright/test';
import { chromiumLaunchOptions, repoRoot, serverBinary, serverEnv } from './tests/support/server';

// dev.sh picks a free port and passes it in; 3400 is only a fallback.
const port = Number(process.env.BELFRY_E2E_PORT ?? 3400);

export default defineConfig({
  testDir: './tests',
  timeout: 30_000,
  expect: { timeout: 5_000 },
  fullyParallel: true,
  workers: 2,
  forbidOnly: !!process.env.CI,
  retries: 0,
  reporter: [['list'], ['html', { open: 'never', outputFolder: 'playwright-report' }]],
  outputDir: 'test-results',
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    launchOptions: chromiumLaunchOptions,
    screenshot: 'only-on-failure',
    trace: 'retain-on-failure',
  },
  webServer: {
    command: serverBinary,
    cwd: repoRoot,
    url: `http://127.0.0.1:${port}/healthz`,
    reuseExistingServer: false,
    timeout: 30_000,
    stdout: 'pipe',
    stderr: 'pipe',
    env: { ...serverEnv, BELFRY_ADDR: `127.0.0.1:${port}` },
  },
});
