// BERT fill-mask latency in headless Chromium, through the real UI: warm
// edit → predictions shown, for the bundled model (MiniLM, 6 layers, 384
// wide), on WebGPU (SwiftShader here) and on the CPU fallback. Also the cold
// model load (download from the local server + sha256 + build on the device)
// and the same again from the browser's cache.
//
//   node scripts/bench_bert.mjs [backends=cpu,webgpu] [edits=10]
//
// "edit → shown" is measured from the input event to the moment the
// predictions for that text are on the page; it includes the page's 300 ms
// typing debounce, which is also reported separately (model_ms is what the
// page measures around the model run and readback alone).
// Needs a built app in dist/ (`make wasm` or `make dist`). Prints one JSON
// object per backend. A benchmark, not a test: nothing here asserts speed.
import os from 'node:os';
import { launch, open, settledBackend } from '../tests/e2e/browser.mjs';
import { fillMaskShown } from './bench/app_browser.mjs';

const backends = (process.argv[2] ?? 'cpu,webgpu').split(',');
const edits = Number(process.argv[3] ?? 10);
const DEBOUNCE_MS = 300;

const SENTENCES = [
  'The capital of France is [MASK].',
  'I drink [MASK] every morning.',
  'She went to the [MASK] to buy bread.',
  'The cat sat on the [MASK].',
  'He plays the [MASK] in a band.',
];

async function shown(page, text) {
  const t0 = await page.evaluate(() => performance.now());
  const model = await fillMaskShown(page, text);
  const t1 = await page.evaluate(() => performance.now());
  return { edit_to_shown_ms: t1 - t0, model_ms: model };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function run(webgpu) {
  const backend = webgpu ? 'webgpu' : 'cpu';
  const env = await launch({ webgpu });
  try {
    const result = { backend, cores: os.cpus().length, debounce_ms: DEBOUNCE_MS };
    for (const pass of ['cold', 'cached']) {
      const t0 = Date.now();
      const { page, errors } = await open(env, `/bert?lang=en&backend=${backend}`);
      result.adapter = (await settledBackend(page)) && (await page.getByTestId('backend-indicator').innerText());
      await page.getByTestId('bert-model-status').and(page.locator('[data-state="done"]')).waitFor({ timeout: 0 });
      result[`${pass}_load_s`] = (Date.now() - t0) / 1000;
      if (pass === 'cached') {
        await shown(page, 'Warm [MASK] up.'); // shader compilation, allocator
        const runs = [];
        for (let i = 0; i < edits; i++) runs.push(await shown(page, SENTENCES[i % SENTENCES.length].replace('.', i % 2 ? '!' : '.')));
        result.edits = edits;
        result.edit_to_shown_ms_median = Math.round(median(runs.map((r) => r.edit_to_shown_ms)));
        result.model_ms_median = median(runs.map((r) => r.model_ms));
        result.model_ms_min = Math.min(...runs.map((r) => r.model_ms));
      }
      if (errors.length) result.errors = errors;
      await page.close();
    }
    return result;
  } finally {
    await env.close();
  }
}

for (const backend of backends) {
  console.log(JSON.stringify(await run(backend === 'webgpu')));
}
