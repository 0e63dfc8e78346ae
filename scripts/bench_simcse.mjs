// SimCSE speed in headless Chromium, through the real page (/simcse), on the
// CPU fallback and on WebGPU (SwiftShader here): sentence embeddings per
// second (a batch of 32 sentences of ~16 tokens, all-MiniLM-L6-v2, the
// page's own timing of model + readback) and unsupervised SimCSE training
// steps per second (batch 8, wall clock of a whole run, which includes the
// alignment/uniformity probe the page runs every 5 steps).
//
//   node scripts/bench_simcse.mjs [backends=cpu,webgpu] [repeats=5] [steps=10]
//
// Needs a built app in dist/ (`make wasm` or `make dist`). Prints one JSON
// object per backend. A benchmark, not a test: nothing here asserts speed.
import os from 'node:os';
import { launch, open, settledBackend } from '../tests/e2e/browser.mjs';

const backends = (process.argv[2] ?? 'cpu,webgpu').split(',');
const repeats = Number(process.argv[3] ?? 5);
const steps = Number(process.argv[4] ?? 10);

// 32 sentences of 14-18 WordPiece tokens with [CLS]/[SEP].
const BATCH = Array.from({ length: 32 }, (_, i) =>
  `Sentence ${i}: the quick brown fox jumps over the lazy dog near river ${i % 5}.`,
);

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function embedOnce(page, text) {
  await page.getByTestId('simcse-sentences').fill(text);
  await page.waitForFunction(
    (n) => {
      const p = document.querySelector('[data-testid="simcse-heatmap-panel"]');
      const h = document.querySelector('[data-testid="simcse-heatmap"]');
      return p?.dataset.state === 'done' && h?.dataset.n === String(n) && p.dataset.ms;
    },
    text.split('\n').length,
    { timeout: 0, polling: 200 },
  );
  return Number(await page.getByTestId('simcse-heatmap-panel').getAttribute('data-ms'));
}

async function run(webgpu) {
  const backend = webgpu ? 'webgpu' : 'cpu';
  const env = await launch({ webgpu });
  try {
    // ?sts=8: the page's STS score would otherwise keep the device busy.
    const { page } = await open(env, `/simcse?lang=en&backend=${backend}&sts=8&n=8&steps=${steps}`);
    const adapter = (await settledBackend(page)) && (await page.getByTestId('backend-indicator').innerText());
    await page.locator('[data-testid="simcse-sts-score"][data-state="done"]').waitFor({ timeout: 0 });
    const times = [];
    for (let r = 0; r <= repeats; r++) {
      // A different list each time (the page skips unchanged text); the first is warm-up.
      const ms = await embedOnce(page, BATCH.map((s) => `${s} (${r})`).join('\n'));
      if (r > 0) times.push(ms);
    }
    const t0 = Date.now();
    await page.getByTestId('simcse-train-unsup').click();
    await page.locator('[data-testid="simcse-step"][data-state="done"]').waitFor({ timeout: 0 });
    const trainS = (Date.now() - t0) / 1000;
    const done = Number(await page.getByTestId('simcse-step').getAttribute('data-value'));
    return {
      backend,
      adapter,
      cores: os.cpus().length,
      embed_batch32_ms: { median: median(times), min: Math.min(...times), max: Math.max(...times), runs: times.length },
      sentences_per_s: +(32000 / median(times)).toFixed(1),
      train_steps: done,
      train_steps_per_s: +(done / trainS).toFixed(3),
    };
  } finally {
    await env.close();
  }
}

for (const b of backends) {
  console.log(JSON.stringify(await run(b === 'webgpu')));
}
