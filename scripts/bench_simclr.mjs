// SimCLR training speed and memory in headless Chromium, through the real UI:
// steps/s at batch N on WebGPU (SwiftShader here) and on the CPU fallback, and
// the growth of the wasm heap over a long run (a leak would show as growth).
//
//   node scripts/bench_simclr.mjs [steps=100] [batch=32] [backends=cpu,webgpu]
//
// Needs a built app in dist/ (`make wasm` or `make dist`). Prints one JSON
// object per backend. A benchmark, not a test: nothing here asserts speed.
import os from 'node:os';
import { launch, open, settledBackend } from '../tests/e2e/browser.mjs';

const steps = Number(process.argv[2] ?? 100);
const batch = Number(process.argv[3] ?? 32);
const backends = (process.argv[4] ?? 'cpu,webgpu').split(',');

async function run(webgpu) {
  const backend = webgpu ? 'webgpu' : 'cpu';
  const env = await launch({ webgpu });
  try {
    const { page, errors } = await open(env, `/simclr?lang=en&debug=1&backend=${backend}&n=${batch}&steps=${steps}`);
    const settled = await settledBackend(page);
    const adapter = await page.getByTestId('backend-indicator').innerText();
    await page.getByTestId('simclr-samples').click();
    await page.getByTestId('simclr-image-count').and(page.locator('[data-state="done"]')).waitFor();
    const images = Number(await page.getByTestId('simclr-image-count').getAttribute('data-value'));
    const memory = () => page.evaluate(() => window.pretextDebug.wasmMemoryBytes());
    // Long tasks on the main thread while training (each step runs between yields).
    await page.evaluate(() => {
      window.__longTasks = [];
      new PerformanceObserver((l) => window.__longTasks.push(...l.getEntries().map((e) => e.duration))).observe({ type: 'longtask', buffered: false });
    });
    await page.getByTestId('simclr-train').click();
    const stepEl = page.getByTestId('simclr-step');
    const at = async (n) => {
      await page.waitForFunction((n) => Number(document.querySelector('[data-testid="simclr-step"]').dataset.value) >= n, n, { timeout: 0 });
      return Date.now();
    };
    // Warm-up: the first steps compile shaders / fill caches.
    const warm = Math.min(5, steps - 1);
    const t0 = await at(warm);
    const memoryAfterWarmup = await memory();
    // The heap every 100 steps: growth that levels off is the allocator's
    // high-water mark; growth that keeps climbing would be a leak.
    const heapTrace = [];
    for (let n = 100; n < steps; n += 100) {
      await at(n);
      heapTrace.push([n, (await memory()) / 2 ** 20]);
    }
    await stepEl.and(page.locator('[data-state="done"]')).waitFor({ timeout: 0 });
    const t1 = Date.now();
    const memoryAtEnd = await memory();
    const longTasks = await page.evaluate(() => window.__longTasks);
    const losses = await page.locator('[data-testid="simclr-loss-plot"] .loss-point').evaluateAll((els) => els.map((e) => Number(e.dataset.loss)));
    return {
      backend: settled,
      adapter,
      images,
      batch,
      view_px: 16,
      encoder_width: 4,
      steps,
      steps_per_second: (steps - warm) / ((t1 - t0) / 1000),
      wasm_heap_mb_after_warmup: memoryAfterWarmup / 2 ** 20,
      wasm_heap_mb_at_end: memoryAtEnd / 2 ** 20,
      wasm_heap_mb_every_100_steps: heapTrace,
      longest_main_thread_task_ms: Math.max(0, ...longTasks),
      first_loss: losses[0],
      last_loss: losses.at(-1),
      errors,
    };
  } finally {
    await env.close();
  }
}

const machine = `${os.cpus()[0]?.model ?? 'cpu'} × ${os.cpus().length}`;
for (const name of backends) {
  console.log(JSON.stringify({ machine, ...(await run(name === 'webgpu')) }));
}
