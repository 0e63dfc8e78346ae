// Shared set-up for the browser tests: Debian's chromium driven by
// playwright-core (no browser download), with or without WebGPU.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startServer } from './server.mjs';

export const DIST = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../dist');

// The network is closed here: background services must not try to reach it.
const BASE_ARGS = [
  '--no-sandbox',
  '--disable-gpu-sandbox',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

// SwiftShader WebGPU compiles shaders slowly on 2 cores: be generous.
export const SLOW = 120_000;

/**
 * Options for a click that starts long work (training, sampling). On
 * SwiftShader the first training step can hold the page's main thread for
 * over 100 s (autotune; DEVELOPERS.md), and a click is held up by it twice:
 * - the renderer acknowledges the mouse-up only after the microtasks that its
 *   handler started, and the training loop's first step runs in one of those
 *   (`spawn_local`), so the click action itself can outlast the default
 *   timeout (seen in a clean-clone `make test`: "performing click action",
 *   then 120 s);
 * - Playwright then ends a click with one more round trip to the renderer
 *   (`noWaitAfter` skips it).
 * Only for clicks the test follows with a wait on the result's `data-state`:
 * an assertion on text right after a click keeps Playwright's round trip.
 */
export const STARTS_WORK = { noWaitAfter: true, timeout: 4 * SLOW };

/**
 * Starts the server and a browser; `webgpu` exposes SwiftShader's adapter.
 * `dist`: another build to serve (scripts/profile_training.mjs).
 */
export async function launch({ webgpu, dist = DIST }) {
  if (!fs.existsSync(path.join(dist, 'index.html'))) {
    throw new Error(`no built app in ${dist}: run \`make wasm\` first`);
  }
  const server = await startServer(dist);
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pretext-e2e-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: webgpu ? [...BASE_ARGS, '--enable-unsafe-webgpu'] : BASE_ARGS,
  });
  context.setDefaultTimeout(SLOW);
  return {
    server,
    context,
    async close() {
      await context.close();
      await server.close();
      fs.rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Opens a page and records every uncaught error and console error, which the
 * tests treat as failures.
 */
export async function open(env, urlPath, { init } = {}) {
  const page = await env.context.newPage();
  // A script to run before the page's own (a test's stand-in for a browser API).
  if (init) await page.addInitScript(init);
  const errors = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console.error: ${m.text()}`);
  });
  await page.goto(env.server.url + urlPath);
  return { page, errors };
}

/** Waits until the backend indicator has settled and returns its backend. */
export async function settledBackend(page) {
  const indicator = page.getByTestId('backend-indicator');
  await indicator.and(page.locator('[data-state="done"]')).waitFor();
  return indicator.getAttribute('data-backend');
}
