// iGPT sampling speed in headless Chromium, through the real UI: time per
// generated pixel with and without the KV cache, and a full bottom-half
// completion (98 pixels × 4 samples at 14×14), on WebGPU (SwiftShader here)
// and on the CPU fallback; plus the linear probe's wall time.
//
//   node scripts/bench_igpt.mjs [backends=cpu,webgpu]
//
// Needs a built app in dist/ (`make wasm` or `make dist`). Prints one JSON
// object per backend. A benchmark, not a test: nothing here asserts speed.
import os from 'node:os';
import { launch, open, settledBackend } from '../tests/e2e/browser.mjs';

const backends = (process.argv[2] ?? 'cpu,webgpu').split(',');

async function complete(page) {
  const samples = page.getByTestId('igpt-samples');
  const t0 = Date.now();
  await page.getByTestId('igpt-complete').click();
  await samples.and(page.locator('[data-state="done"]')).waitFor({ timeout: 0 });
  const wall = Date.now() - t0;
  const text = await page.getByTestId('igpt-ms-per-pixel').innerText();
  return { wall_ms: wall, ms_per_pixel: Number(text.match(/([\d.]+) ms/)[1]) };
}

async function run(webgpu) {
  const backend = webgpu ? 'webgpu' : 'cpu';
  const env = await launch({ webgpu });
  try {
    const result = { backend, cores: os.cpus().length };
    for (const cache of [true, false]) {
      const { page, errors } = await open(env, `/igpt?lang=en&backend=${backend}&both=0&mask=bottom&img=0&cache=${cache ? 1 : 0}`);
      result.adapter = (await settledBackend(page)) && (await page.getByTestId('backend-indicator').innerText());
      await page.getByTestId('igpt-gallery').and(page.locator('[data-state="done"]')).waitFor();
      await complete(page); // warm-up: shader compilation, allocator
      const runs = [await complete(page), await complete(page)];
      result[cache ? 'kv_cache' : 'no_cache'] = {
        ms_per_pixel: Math.min(...runs.map((r) => r.ms_per_pixel)),
        bottom_half_4_samples_s: Math.min(...runs.map((r) => r.wall_ms)) / 1000,
      };
      if (cache) {
        const t0 = Date.now();
        await page.getByTestId('igpt-probe-run').click();
        await page.getByTestId('igpt-probe-accuracy').and(page.locator('[data-state="done"]')).waitFor({ timeout: 0 });
        result.probe_s = (Date.now() - t0) / 1000;
        result.probe = await page.locator('table.probe tbody tr').evaluateAll((rows) => rows.map((r) => r.innerText.replace(/\s+/g, ' ')));
        await page.getByTestId('igpt-masked-mode').check();
        const t1 = Date.now();
        await page.getByTestId('igpt-complete').click();
        await page.getByTestId('igpt-samples').and(page.locator('[data-state="done"]')).waitFor({ timeout: 0 });
        result.next_plus_masked_fill_s = (Date.now() - t1) / 1000;
      }
      if (errors.length) result.errors = errors;
      await page.close();
    }
    return result;
  } finally {
    await env.close();
  }
}

for (const b of backends) {
  console.log(JSON.stringify(await run(b === 'webgpu'), null, 1));
}
