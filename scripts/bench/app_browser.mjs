// The app's own figures for `make bench`, measured in headless Chromium
// through the real pages (the same UI code paths a visitor uses), on the CPU
// fallback and on WebGPU (SwiftShader on a GPU-less machine). Writes the JSON
// of scripts/bench/CONTRACT.md (producer "pretext-browser").
//
//   node scripts/bench/app_browser.mjs --out FILE [--smoke] [--runs N] [--backends cpu,webgpu] [--ids ID,...]
//
// --ids measures only those figures (fill_mask_12tok, fill_mask_new_lengths,
// embed_b1, embed_b32, igpt, simclr_train_step_b32, simcse_train_step,
// cold_start, wasm, downloads): to re-measure a few without the rest
// (run.mjs --keep).
//
// Needs a built app in dist/ (`make dist` for the release build the report
// is about). Every page carries a PerformanceObserver on long tasks from its
// first script on, so each figure also says how long the main thread was
// blocked at most while it ran (the 50 ms aim).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { DIST, launch, open, settledBackend, STARTS_WORK } from '../../tests/e2e/browser.mjs';
import { bertFlops, igptDecodeFlops } from './flops.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const SENTENCES = fs.readFileSync(path.join(HERE, 'sentences.txt'), 'utf8').trim().split('\n');
// One [MASK] in a 12-token sentence ([CLS] … [SEP]); two spellings that
// tokenize to the same length, so consecutive edits differ and both re-run.
export const FILL_MASK = ['The capital city of France is [MASK] in Europe.', 'The capital city of France is [MASK] in Europe!'];
const FILL_MASK_TOKENS = 12;
// all-MiniLM-L6-v2 and the iGPT demo's model (src/model/igpt.rs IgptConfig defaults).
const MINILM = { layers: 6, hidden: 384, ffn: 1536, vocab: 30522 };
const IGPT = { layers: 4, d: 64, ffn: 256, vocab: 8, seq: 196 };
const IGPT_SAMPLES = 4;
const IGPT_BOTTOM_HALF = 98;

// Installed before any page script: every long task (> 50 ms on the main
// thread) from the first moment on.
const LONG_TASKS = () => {
  window.__longTasks = [];
  try {
    window.__longTaskObserver = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) window.__longTasks.push(e.duration);
    });
    window.__longTaskObserver.observe({ type: 'longtask', buffered: true });
  } catch {}
};
const resetLongTasks = (page) => page.evaluate(() => (window.__longTasks = []));
// takeRecords(): entries the observer has seen but not yet delivered to its
// callback (a task that just ended) count too.
const longestTask = (page) =>
  page.evaluate(() => {
    for (const e of window.__longTaskObserver?.takeRecords() ?? []) window.__longTasks.push(e.duration);
    return Math.max(0, ...(window.__longTasks ?? []));
  });

async function browser(webgpu) {
  const env = await launch({ webgpu });
  await env.context.addInitScript(LONG_TASKS);
  return env;
}

async function pageFor(env, route) {
  const { page, errors } = await open(env, route);
  const backend = await settledBackend(page);
  const adapter = await page.getByTestId('backend-indicator').innerText();
  return { page, errors, backend, adapter };
}

// ---- BERT fill-mask: one mask in a 12-token sentence -----------------------

/** Types `text` into the BERT page and returns the page's ms once its predictions are for that text. */
export async function fillMaskShown(page, text) {
  await page.getByTestId('bert-input').fill(text);
  await page.waitForFunction(
    (t) => {
      const el = document.querySelector('[data-testid="bert-predictions"]');
      return el && el.dataset.state === 'done' && el.dataset.text === t;
    },
    text,
    { timeout: 0, polling: 'raf' },
  );
  return Number((await page.getByTestId('bert-latency').innerText()).match(/([\d.]+) ms/)[1]);
}

/** The BERT page with its model loaded, warmed up on FILL_MASK, long tasks reset. */
async function warmBertPage(env, backend, o) {
  const { page, adapter } = await pageFor(env, `/bert?lang=en&backend=${backend}&text=${encodeURIComponent(FILL_MASK[1])}`);
  await page.getByTestId('bert-model-status').and(page.locator('[data-state="done"]')).waitFor({ timeout: 0 });
  for (let i = 0; i < o.warmup; i++) await fillMaskShown(page, FILL_MASK[i % 2]);
  await resetLongTasks(page);
  return { page, adapter };
}

/** Encoder over `tokens` tokens, then the MLM head (transform + decoder) at one mask. */
const fillMaskFlops = (tokens) => bertFlops(MINILM, [tokens]) + 2 * MINILM.hidden * MINILM.hidden + 2 * MINILM.hidden * MINILM.vocab;

async function fillMask(env, backend, o) {
  const { page, adapter } = await warmBertPage(env, backend, o);
  const samples = [];
  for (let i = 0; i < o.runs; i++) samples.push(await fillMaskShown(page, FILL_MASK[(o.warmup + i) % 2]));
  const longest = await longestTask(page);
  await page.close();
  return {
    id: 'fill_mask_12tok',
    what: 'BERT fill-mask, one [MASK] in a 12-token sentence: encoder + MLM head at the mask + softmax + readback (the page\'s timing, without its 300 ms typing debounce)',
    samples,
    items_per_call: 1,
    item: 'sentence',
    flops_per_call: fillMaskFlops(FILL_MASK_TOKENS),
    adapter,
    longest_task_ms: longest,
  };
}

// ---- BERT fill-mask on sentences of new lengths ----------------------------

// A visitor editing the sentence: one [MASK] in each, and each a token count
// ([CLS] and [SEP] included) the page has not run before: 9, 10, 11, 13, 14,
// 15, 16 (it warms up on FILL_MASK's 12). On a GPU every new problem size
// can mean new kernels to compile, inside the tensor ops, on the page's
// thread: the longest task of this figure is what a visitor feels.
export const FILL_MASK_NEW_LENGTHS = [
  ['Paris is a [MASK] old city.', 9],
  ['Paris is a [MASK] and old city.', 10],
  ['The capital of France is [MASK] in Europe.', 11],
  ['The capital city of France is [MASK] in Europe today.', 13],
  ['The capital city of France is [MASK] in Europe, too.', 14],
  ['The capital city of France is [MASK] in Europe, they say.', 15],
  ['The capital city of France is [MASK] in western Europe, they say.', 16],
];

async function fillMaskNewLengths(env, backend, o) {
  const { page, adapter } = await warmBertPage(env, backend, o);
  // Every length once, whatever --runs says: a second visit would not be new.
  const sentences = o.smoke ? FILL_MASK_NEW_LENGTHS.slice(0, 2) : FILL_MASK_NEW_LENGTHS;
  const samples = [];
  for (const [text] of sentences) samples.push(await fillMaskShown(page, text));
  const longest = await longestTask(page);
  await page.close();
  const tokens = sentences.map(([, n]) => n);
  return {
    id: 'fill_mask_new_lengths',
    what: `BERT fill-mask, one [MASK] in sentences of ${tokens.join(', ')} tokens typed one after another, each a length the page has not run before (it warmed up on 12): the page's timing per sentence; its longest task is the main thread's worst stall while a visitor edits`,
    samples,
    items_per_call: 1,
    item: 'sentence',
    flops_per_call: tokens.reduce((a, n) => a + fillMaskFlops(n), 0) / tokens.length,
    adapter,
    longest_task_ms: longest,
  };
}

// ---- Sentence embeddings (the SimCSE page's heatmap) -----------------------

async function embeddings(env, backend, o, sentences, id) {
  // ?sts=8 keeps the page's background STS scoring short; it is awaited below
  // so it does not share the device with the measured runs.
  const { page, adapter } = await pageFor(env, `/simcse?lang=en&backend=${backend}&sts=8`);
  await page.locator('[data-testid="simcse-sts-score"][data-state="done"]').waitFor({ timeout: 0 });
  const once = async (r) => {
    // A different list each time (the page skips unchanged text); the
    // variation is a trailing digit inside the final punctuation's token count.
    const text = sentences.map((s) => s.replace(/\.$/, r % 2 ? '!' : '.')).join('\n');
    // The whole list at once, as a paste: Playwright's fill() would insert
    // it line by line (63 input events in one task, each re-rendering).
    // The panel still says `done` (the previous list's result) until the
    // page's typing debounce has passed, so the result of this edit is the
    // first `running` → `done` transition after it, watched from before it.
    await page.evaluate((t) => {
      const panel = document.querySelector('[data-testid="simcse-heatmap-panel"]');
      window.__nextEmbedding = new Promise((resolve, reject) => {
        const watch = new MutationObserver((records) => {
          if (!records.some((r) => r.oldValue === 'running')) return;
          if (panel.dataset.state === 'done') resolve(Number(panel.dataset.ms));
          else if (panel.dataset.state === 'error') reject(new Error('the embedding failed'));
          else return;
          watch.disconnect();
        });
        watch.observe(panel, { attributes: true, attributeFilter: ['data-state'], attributeOldValue: true });
      });
      const area = document.querySelector('[data-testid="simcse-sentences"]');
      area.value = t;
      area.dispatchEvent(new InputEvent('input', { bubbles: true, inputType: 'insertFromPaste', data: t }));
    }, text);
    const ms = await page.evaluate(() => window.__nextEmbedding);
    const shown = await page.evaluate(() => document.querySelector('[data-testid="simcse-heatmap"]')?.dataset.n);
    if (shown !== String(sentences.length)) throw new Error(`the heatmap shows ${shown} sentences, not ${sentences.length}`);
    return ms;
  };
  // The page starts on its default list: the first edit is already new text.
  for (let r = 0; r < o.warmup; r++) await once(r);
  await resetLongTasks(page);
  const samples = [];
  for (let r = o.warmup; r < o.warmup + o.runs; r++) samples.push(await once(r));
  const longest = await longestTask(page);
  // On the CPU backend the page embeds in Web Workers (src/runtime/embed_pool.rs):
  // how many made the measured lists (0: the page's thread).
  const workers = Number(await page.getByTestId('simcse-heatmap-panel').getAttribute('data-workers'));
  await page.close();
  const lengths = o.tokenCounts && sentences.map((s) => o.tokenCounts.get(s));
  return {
    id,
    what: `all-MiniLM-L6-v2 sentence embeddings, ${sentences.length} sentence${sentences.length > 1 ? 's' : ''} of 13–15 tokens: tokenize + encoder + mean pooling + L2 normalise + readback (the page's timing)`,
    samples,
    items_per_call: sentences.length,
    item: 'sentence',
    ...(lengths && { flops_per_call: bertFlops(MINILM, lengths) }),
    adapter,
    longest_task_ms: longest,
    workers,
  };
}

// ---- iGPT: pixels with the KV cache, a whole bottom half -------------------

async function igpt(env, backend, o) {
  const { page, adapter } = await pageFor(env, `/igpt?lang=en&backend=${backend}&both=0&mask=bottom&img=0&cache=1`);
  await page.getByTestId('igpt-gallery').and(page.locator('[data-state="done"]')).waitFor({ timeout: 0 });
  const complete = async () => {
    const t0 = await page.evaluate(() => performance.now());
    await page.getByTestId('igpt-complete').click();
    await page.getByTestId('igpt-samples').and(page.locator('[data-state="done"]')).waitFor({ timeout: 0 });
    const t1 = await page.evaluate(() => performance.now());
    const perPixel = Number((await page.getByTestId('igpt-ms-per-pixel').innerText()).match(/([\d.]+) ms/)[1]);
    return { wall: t1 - t0, perPixel };
  };
  for (let i = 0; i < o.warmup; i++) await complete();
  await resetLongTasks(page);
  const runs = [];
  for (let i = 0; i < o.runs; i++) runs.push(await complete());
  const longest = await longestTask(page);
  await page.close();
  // A bottom half: positions 98..195, each decoded with the cache for 4 samples at once.
  const decodes = Array.from({ length: IGPT_BOTTOM_HALF }, (_, i) => IGPT_BOTTOM_HALF + i);
  const perPixelFlops = decodes.reduce((a, p) => a + igptDecodeFlops(IGPT, p + 1), 0) / decodes.length;
  return [
    {
      id: 'igpt_ms_per_pixel',
      what: 'iGPT next-pixel model (4 layers, d=64, 196 positions), one generated pixel for 4 samples with the KV cache (the page\'s ms/pixel)',
      samples: runs.map((r) => r.perPixel),
      items_per_call: 1,
      item: 'pixel',
      flops_per_call: IGPT_SAMPLES * perPixelFlops,
      adapter,
      longest_task_ms: longest,
    },
    {
      id: 'igpt_bottom_half',
      what: 'iGPT completes the bottom half (98 pixels) of a 14×14 image, 4 samples, with the KV cache: click → samples shown',
      samples: runs.map((r) => r.wall),
      items_per_call: 1,
      item: 'completion',
      flops_per_call: IGPT_SAMPLES * IGPT_BOTTOM_HALF * perPixelFlops,
      adapter,
      longest_task_ms: longest,
    },
  ];
}

// ---- Training steps: per-step times from the page's step counter -----------

/** Records, in the page, the time at which the step counter `testid` changes. */
async function watchSteps(page, testid) {
  await page.evaluate((testid) => {
    const el = document.querySelector(`[data-testid="${testid}"]`);
    window.__steps = [];
    new MutationObserver(() => window.__steps.push([Number(el.dataset.value), performance.now()])).observe(el, {
      attributes: true,
      attributeFilter: ['data-value'],
    });
  }, testid);
}

/** Per-step milliseconds between consecutive counter values after `warmup` steps. */
async function stepTimes(page, warmup) {
  const marks = await page.evaluate(() => window.__steps);
  const at = new Map();
  for (const [n, t] of marks) if (!at.has(n)) at.set(n, t);
  const out = [];
  for (const [n, t] of at) if (n > warmup && at.has(n - 1)) out.push(t - at.get(n - 1));
  return out;
}

/**
 * Per-step times of a run on the shared training driver: `prefix` is the
 * page's testid prefix (its `-step` counter), `ready` waits until the page can
 * train, `start` is the testid of the button that starts the run.
 */
async function trainingSteps(env, backend, o, { route, prefix, ready, start }) {
  const { page, adapter } = await pageFor(env, `${route}&backend=${backend}&steps=${o.warmup + o.runs}`);
  await ready(page);
  await watchSteps(page, `${prefix}-step`);
  await resetLongTasks(page);
  await page.getByTestId(start).click({ ...STARTS_WORK, timeout: 0 });
  await page.waitForFunction(([id, w]) => Number(document.querySelector(`[data-testid="${id}"]`).dataset.value) >= w, [`${prefix}-step`, o.warmup], { timeout: 0 });
  // The warm-up steps (a run's first step compiles and autotunes its kernels
  // on WebGPU) are not timed, but their long tasks are what a visitor feels
  // first: recorded apart.
  const longestWarmup = await longestTask(page);
  await resetLongTasks(page);
  await page.getByTestId(`${prefix}-step`).and(page.locator('[data-state="done"]')).waitFor({ timeout: 0 });
  const longest = await longestTask(page);
  const samples = await stepTimes(page, o.warmup);
  const thread = await page.getByTestId(`${prefix}-step`).getAttribute('data-thread');
  await page.close();
  return {
    samples,
    items_per_call: 1,
    item: 'step',
    adapter,
    longest_task_ms: longest,
    longest_task_warmup_ms: longestWarmup,
    ...(thread ? { thread } : {}),
  };
}

/**
 * The two demos that train on the shared driver, as `trainingSteps` runs them
 * (also scripts/profile_training.mjs, so its profiles are of the same run).
 */
export const TRAINING_DEMOS = {
  simclr: {
    route: '/simclr?lang=en&n=32',
    prefix: 'simclr',
    start: 'simclr-train',
    ready: async (page) => {
      await page.getByTestId('simclr-samples').click();
      await page.getByTestId('simclr-image-count').and(page.locator('[data-state="done"]')).waitFor({ timeout: 0 });
      // The page computes the first augmented views as soon as the images
      // are in: start training from a quiet page, not alongside them.
      await page.getByTestId('simclr-views').and(page.locator('[data-state="done"]')).waitFor({ timeout: 0 });
    },
  },
  simcse: {
    route: '/simcse?lang=en&sts=8',
    prefix: 'simcse',
    start: 'simcse-train-unsup',
    ready: (page) => page.locator('[data-testid="simcse-sts-score"][data-state="done"]').waitFor({ timeout: 0 }),
  },
};

async function simclr(env, backend, o) {
  const steps = await trainingSteps(env, backend, o, TRAINING_DEMOS.simclr);
  return {
    id: 'simclr_train_step_b32',
    what: 'SimCLR training step at batch 32 (64 augmented views): augment + encoder + projection + NT-Xent + backward + Adam, on the page\'s training driver (on WebGPU the step runs in a worker with a device of its own)',
    ...steps,
  };
}

async function simcse(env, backend, o) {
  const steps = await trainingSteps(env, backend, o, TRAINING_DEMOS.simcse);
  return {
    id: 'simcse_train_step',
    what: 'unsupervised SimCSE training step, batch 8 sentences (16 dropout views), top 2 of 6 MiniLM layers learning: forward + InfoNCE + backward + Adam (every 5th step also runs the page\'s alignment/uniformity probe; on WebGPU the step and the probe run in the app\'s training worker, a device of its own)',
    ...steps,
  };
}

// ---- Cold start: page load to the first fill-mask prediction ---------------

async function firstPrediction(page) {
  await page.getByTestId('bert-predictions').and(page.locator('[data-state="done"]')).waitFor({ timeout: 0 });
  return page.evaluate(() => performance.now()); // since navigation start
}

async function coldStart(webgpu, backend, o) {
  const route = `/bert?lang=en&backend=${backend}&text=${encodeURIComponent(FILL_MASK[0])}`;
  const empty = [];
  // The longest task of any load, from navigation to the first prediction
  // (the init script observes from the page's first moment).
  let emptyLongest = 0;
  let adapter;
  for (let i = 0; i < o.runs; i++) {
    const env = await browser(webgpu); // a fresh profile: empty HTTP cache and Cache Storage
    try {
      const p = await pageFor(env, route);
      adapter = p.adapter;
      empty.push(await firstPrediction(p.page));
      emptyLongest = Math.max(emptyLongest, await longestTask(p.page));
    } finally {
      await env.close();
    }
  }
  const env = await browser(webgpu);
  const warm = [];
  let warmLongest = 0;
  try {
    const p = await pageFor(env, route);
    await firstPrediction(p.page); // fills the caches
    for (let i = 0; i < o.runs; i++) {
      await p.page.reload();
      await settledBackend(p.page);
      warm.push(await firstPrediction(p.page));
      warmLongest = Math.max(warmLongest, await longestTask(p.page));
    }
  } finally {
    await env.close();
  }
  const what = (cache) => `BERT page: navigation start → first fill-mask prediction shown, ${cache} (wasm, weights download + sha256, model build, first run); longest task: the worst of all runs, the browser's own work on the module included`;
  return [
    { id: 'cold_start_empty_cache', what: what('empty cache (fresh browser profile)'), samples: empty, items_per_call: 1, item: 'load', adapter, longest_task_ms: emptyLongest },
    { id: 'cold_start_warm_cache', what: what('warm cache (reload: wasm and weights from the browser caches)'), samples: warm, items_per_call: 1, item: 'load', adapter, longest_task_ms: warmLongest },
  ];
}

// ---- Sizes: the release wasm, and what each demo downloads -----------------

function wasmSizes() {
  const wasm = fs.readdirSync(DIST).filter((f) => f.endsWith('.wasm'));
  if (wasm.length !== 1) throw new Error(`expected one .wasm in ${DIST}, found ${wasm.length}`);
  const bytes = fs.readFileSync(path.join(DIST, wasm[0]));
  const gzip = zlib.gzipSync(bytes, { level: 9 }).length;
  return [
    { id: 'wasm_bytes', what: `the app's wasm module (${wasm[0].replace(/-[0-9a-f]+_bg/, '_bg')}) as built in dist/`, unit: 'bytes', samples: [bytes.length] },
    { id: 'wasm_gzip_bytes', what: 'the same, gzip -9 (what a compressing server sends)', unit: 'bytes', samples: [gzip] },
  ];
}

// Each demo's "ready" signal: when what it needs to show a first result is loaded.
const DEMOS = [
  ['bert', '/bert?lang=en', (p) => p.getByTestId('bert-predictions').and(p.locator('[data-state="done"]'))],
  ['igpt', '/igpt?lang=en&both=1', (p) => p.getByTestId('igpt-gallery').and(p.locator('[data-state="done"]'))],
  // SimCLR trains from scratch: what it downloads is the sample photos a visitor starts from.
  [
    'simclr',
    '/simclr?lang=en',
    async (p) => {
      await p.getByTestId('simclr-samples').click();
      return p.getByTestId('simclr-image-count').and(p.locator('[data-state="done"]'));
    },
  ],
  ['simcse', '/simcse?lang=en&sts=8', (p) => p.locator('[data-testid="simcse-sts-score"][data-state="done"]')],
];

async function downloads() {
  const out = [];
  for (const [demo, route, ready] of DEMOS) {
    const env = await browser(false);
    try {
      const page = await env.context.newPage();
      const files = new Map();
      page.on('requestfinished', async (req) => {
        const url = new URL(req.url());
        if (!url.pathname.startsWith('/assets/')) return;
        const sizes = await req.sizes().catch(() => null);
        if (sizes) files.set(url.pathname, sizes.responseBodySize);
      });
      await page.goto(env.server.url + route);
      await (await ready(page)).waitFor({ timeout: 0 });
      await page.waitForLoadState('networkidle');
      const total = [...files.values()].reduce((a, b) => a + b, 0);
      out.push({
        id: `downloads_${demo}`,
        what: `bytes the ${demo} page downloads from /assets/ on a first visit until its first result (weights, tokenizer, samples): ${[...files.keys()].map((f) => f.replace('/assets/', '')).sort().join(', ') || 'nothing'}`,
        unit: 'bytes',
        samples: [total],
      });
    } finally {
      await env.close();
    }
  }
  return out;
}

// ---- Driver ----------------------------------------------------------------

async function guarded(skipped, id, backend, fn) {
  try {
    return [await fn()].flat();
  } catch (e) {
    skipped.push({ id, system: 'pretext', backend, why: String(e?.message ?? e).split('\n')[0] });
    return [];
  }
}

/**
 * WordPiece token counts ([CLS] and [SEP] included) of the bench sentences
 * under all-MiniLM-L6-v2's tokenizer, for the FLOP counts; null (no FLOPs
 * reported) if transformers.js, used here only as a tokenizer, is missing.
 */
async function tokenCounts() {
  try {
    const { AutoTokenizer, env } = await import('@huggingface/transformers');
    env.allowRemoteModels = false;
    // The model folder scripts/bench/transformers_js.mjs assembles (the
    // same tokenizer.json as the app's, with the tokenizer_config.json
    // transformers.js wants).
    env.localModelPath = path.resolve(HERE, '../../.assets/bench/');
    const tokenizer = await AutoTokenizer.from_pretrained('all-MiniLM-L6-v2');
    return new Map(SENTENCES.flatMap((s) => [s, s.replace(/\.$/, '!')].map((v) => [v, tokenizer.encode(v).length])));
  } catch {
    return null;
  }
}

export async function measureApp({ backends = ['cpu', 'webgpu'], runs = 5, smoke = false, ids = null, log = () => {} } = {}) {
  const wanted = (id) => !ids || ids.includes(id);
  const o = { smoke, runs: smoke ? 1 : runs, warmup: smoke ? 1 : 2, tokenCounts: await tokenCounts() };
  const figures = [];
  const skipped = [];
  const add = (backend, list) => {
    for (const f of list) figures.push({ system: 'pretext', backend, where: 'browser', unit: 'ms', ...f });
  };
  for (const backend of backends) {
    const webgpu = backend === 'webgpu';
    // --smoke checks the harness, not speed: every figure on the CPU fallback,
    // and on WebGPU (minutes per figure on SwiftShader) the fill-mask page only.
    const smokeSkips = smoke && webgpu;
    const env = await browser(webgpu);
    try {
      for (const [id, fn] of [
        ['fill_mask_12tok', () => fillMask(env, backend, o)],
        ['fill_mask_new_lengths', () => fillMaskNewLengths(env, backend, o)],
        ['embed_b1', () => embeddings(env, backend, o, SENTENCES.slice(0, 1), 'embed_b1')],
        ['embed_b32', () => embeddings(env, backend, o, SENTENCES, 'embed_b32')],
        ['igpt', () => igpt(env, backend, o)],
        ['simclr_train_step_b32', () => simclr(env, backend, o)],
        ['simcse_train_step', () => simcse(env, backend, o)],
      ]) {
        if (!wanted(id)) continue;
        if (smokeSkips && id !== 'fill_mask_12tok') {
          skipped.push({ id, system: 'pretext', backend, why: 'not in --smoke runs (WebGPU checks fill_mask_12tok only); make bench measures it' });
          continue;
        }
        const t0 = Date.now();
        add(backend, await guarded(skipped, id, backend, fn));
        log(`${backend} ${id}: ${((Date.now() - t0) / 1000).toFixed(0)} s`);
      }
    } finally {
      await env.close();
    }
    if (smokeSkips) {
      skipped.push({ id: 'cold_start', system: 'pretext', backend, why: 'not in --smoke runs; make bench measures it' });
      continue;
    }
    if (!wanted('cold_start')) continue;
    const t0 = Date.now();
    add(backend, await guarded(skipped, 'cold_start', backend, () => coldStart(webgpu, backend, o)));
    log(`${backend} cold start: ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  }
  if (wanted('wasm')) for (const f of wasmSizes()) figures.push({ system: 'pretext', backend: 'any', where: 'browser', ...f });
  if (wanted('downloads')) for (const f of await guarded(skipped, 'downloads', 'cpu', downloads)) figures.push({ system: 'pretext', backend: 'any', where: 'browser', ...f });
  const chromium = await (async () => {
    const env = await launch({ webgpu: false });
    try {
      return env.context.browser()?.version() ?? (await (await env.context.newPage()).evaluate(() => navigator.userAgent));
    } finally {
      await env.close();
    }
  })();
  return {
    producer: 'pretext-browser',
    env: { chromium, dist: DIST, cores: os.cpus().length },
    figures,
    skipped,
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const arg = (name, fallback) => {
    const i = process.argv.indexOf(name);
    return i < 0 ? fallback : process.argv[i + 1];
  };
  const result = await measureApp({
    smoke: process.argv.includes('--smoke'),
    runs: Number(arg('--runs', 5)),
    backends: arg('--backends', 'cpu,webgpu').split(','),
    ids: arg('--ids', null)?.split(',') ?? null,
    log: (m) => console.error(m),
  });
  const out = arg('--out', null);
  if (out) fs.writeFileSync(out, JSON.stringify(result, null, 1));
  else console.log(JSON.stringify(result, null, 1));
}
