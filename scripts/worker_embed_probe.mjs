// Measures the route to a parallel CPU fallback: MiniLM replicas in N module
// Web Workers, each instantiating the app's own wasm (`main` mounts nothing
// without a window) and embedding its share of the bench's 32 sentences with
// the exported `replica_load` / `replica_embed` (src/runtime/embed_worker.rs),
// against the same functions on the page's thread. A diagnostic of the
// route, not a benchmark of the app: `make bench`'s embed_b32 on the CPU
// measures the SimCSE page, which embeds through such workers
// (src/runtime/embed_pool.rs; DEVELOPERS.md).
//
// --backend webgpu: the workers start WebGPU themselves (`worker_use_webgpu`),
// and so does the page's thread for its comparison. The page's longest task
// while the workers start and embed is printed next to its longest tasks
// while it starts WebGPU (self-test and the model-shaped products, which
// compile and autotune kernels) and embeds on its own thread: burn compiles
// and autotunes inside tensor ops, so there a new size is a long task.
//
//   make dist   # or: trunk build --dist /tmp/somewhere
//   node scripts/worker_embed_probe.mjs [--dist dist] [--workers 2] [--runs 5] [--batch 16] [--backend cpu|webgpu]
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { launch, open } from '../tests/e2e/browser.mjs';

export const SENTENCES = fs
  .readFileSync(new URL('./bench/sentences.txt', import.meta.url), 'utf8')
  .split('\n')
  .filter(Boolean);

/** Opens the app on the CPU backend and waits until its wasm is running. */
export async function appPage(env) {
  const opened = await open(env, '/?lang=en&backend=cpu');
  await opened.page.waitForFunction(() => window.wasmBindings, null, { timeout: 120_000 });
  return opened;
}

const BACKENDS = ['cpu', 'webgpu'];

/**
 * In `page`: starts `workers` module workers on the app's wasm, loads a replica
 * in each (on `backend`) and on the page (on `pageBackend`, by default the
 * same), then `runs` times embeds `sentences` split across the workers and
 * whole on the page. Returns the times, the largest difference between the
 * two, the workers' rows of the last run, the workers' adapter (WebGPU), and
 * the page's longest task while the workers started and embedded
 * (`longestTaskWorkers`), while the page started WebGPU itself
 * (`longestTaskPageStart`) and while the page embedded (`longestTaskPage`).
 */
export function embedInWorkers(page, { sentences, workers, runs, batch, backend = 'cpu', pageBackend = backend }) {
  if (!BACKENDS.includes(backend) || !BACKENDS.includes(pageBackend))
    throw new Error(`backends are ${BACKENDS.join(' or ')}: got ${backend} and ${pageBackend}`);
  return page.evaluate(async ({ sentences, workers, runs, batch, backend, pageBackend }) => {
    // Long tasks of the page's thread, by phase (a task belongs to the phase it started in).
    const tasks = [];
    const observer = new PerformanceObserver((list) => tasks.push(...list.getEntries()));
    observer.observe({ type: 'longtask' });
    const phases = { workers: [], pageStart: [], page: [] };
    const timed = async (phase, work) => {
      const t0 = performance.now();
      try {
        return await work();
      } finally {
        phases[phase].push([t0, performance.now()]);
      }
    };
    const hrefs = [...document.querySelectorAll('link')].map((l) => l.href);
    const glue = hrefs.find((h) => /\/pretext-[0-9a-f]+\.js$/.test(h));
    const wasmUrl = hrefs.find((h) => /_bg\.wasm$/.test(h));
    if (!glue || !wasmUrl) throw new Error(`no app module among the page's links: ${hrefs.join(' ')}`);
    const files = await Promise.all(
      ['config.json', 'tokenizer.json', 'model.safetensors'].map(async (f) => {
        const response = await fetch(`/assets/minilm/${f}`);
        if (!response.ok) throw new Error(`/assets/minilm/${f}: HTTP ${response.status}`);
        return new Uint8Array(await response.arrayBuffer());
      }),
    );
    const source = `
      let app;
      onmessage = async ({ data }) => {
        try {
          if (data.init) {
            const t0 = performance.now();
            app = await import(data.glue);
            await app.default({ module_or_path: data.wasmUrl });
            const adapter = data.webgpu ? await app.worker_use_webgpu() : null;
            const t1 = performance.now();
            app.replica_load(...data.files);
            postMessage({ ok: true, adapter, instantiate: t1 - t0, load: performance.now() - t1 });
          } else {
            const t0 = performance.now();
            const rows = await app.replica_embed(data.sentences, data.batch);
            postMessage({ ok: true, rows, ms: performance.now() - t0 }, [rows.buffer]);
          }
        } catch (e) {
          postMessage({ ok: false, error: String((e && e.stack) || e) });
        }
      };`;
    const url = URL.createObjectURL(new Blob([source], { type: 'text/javascript' }));
    const call = (worker, message) =>
      new Promise((resolve, reject) => {
        worker.onmessage = ({ data }) => (data.ok ? resolve(data) : reject(new Error(data.error)));
        worker.onerror = (e) => reject(new Error(e.message || 'the worker failed to start'));
        worker.postMessage(message);
      });
    const out = { starts: [], pool: [], perWorker: [], main: [], maxDiff: 0, cores: navigator.hardwareConcurrency };
    const pool = [];
    for (let i = 0; i < workers; i++) {
      const worker = new Worker(url, { type: 'module' });
      const t0 = performance.now();
      const r = await timed('workers', () => call(worker, { init: true, glue, wasmUrl, files, webgpu: backend === 'webgpu' }));
      out.starts.push({ wall: performance.now() - t0, instantiate: r.instantiate, load: r.load });
      out.adapter = r.adapter;
      pool.push(worker);
    }
    if (pageBackend === 'webgpu') await timed('pageStart', () => wasmBindings.worker_use_webgpu());
    wasmBindings.replica_load(...files);
    const reference = await timed('page', () => wasmBindings.replica_embed(sentences, batch));
    const share = Math.ceil(sentences.length / workers);
    // One unmeasured round first: each replica's first call compiles lazily.
    for (let run = 0; run <= runs; run++) {
      const t0 = performance.now();
      const parts = await timed('workers', () =>
        Promise.all(pool.map((w, i) => call(w, { sentences: sentences.slice(i * share, (i + 1) * share), batch }))),
      );
      const wall = performance.now() - t0;
      const rows = parts.flatMap((p) => Array.from(p.rows));
      if (rows.length !== reference.length) throw new Error(`${rows.length} values from the workers, ${reference.length} on the page`);
      for (let k = 0; k < rows.length; k++) out.maxDiff = Math.max(out.maxDiff, Math.abs(rows[k] - reference[k]));
      const m0 = performance.now();
      await timed('page', () => wasmBindings.replica_embed(sentences, batch));
      const mainMs = performance.now() - m0;
      if (run > 0) {
        out.pool.push(wall);
        out.perWorker.push(parts.map((p) => p.ms));
        out.main.push(mainMs);
      }
      out.rows = rows;
    }
    pool.forEach((w) => w.terminate());
    URL.revokeObjectURL(url);
    // Entries arrive after their task ends: give the last one a turn.
    await new Promise((resolve) => setTimeout(resolve, 100));
    tasks.push(...observer.takeRecords());
    observer.disconnect();
    const longest = (windows) =>
      Math.max(0, ...tasks.filter((t) => windows.some(([a, b]) => t.startTime >= a && t.startTime < b)).map((t) => t.duration));
    out.longestTaskWorkers = longest(phases.workers);
    out.longestTaskPageStart = longest(phases.pageStart);
    out.longestTaskPage = longest(phases.page);
    return out;
  }, { sentences, workers, runs, batch, backend, pageBackend });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const span = (xs) => `median ${median(xs).toFixed(0)} ms (min ${Math.min(...xs).toFixed(0)}, max ${Math.max(...xs).toFixed(0)})`;

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values: o } = parseArgs({
    options: {
      dist: { type: 'string', default: 'dist' },
      workers: { type: 'string', default: '2' },
      runs: { type: 'string', default: '5' },
      batch: { type: 'string', default: '16' },
      backend: { type: 'string', default: 'cpu' },
    },
  });
  const env = await launch({ webgpu: o.backend === 'webgpu', dist: o.dist });
  try {
    const { page, errors } = await appPage(env);
    const r = await embedInWorkers(page, {
      sentences: SENTENCES,
      workers: Number(o.workers),
      runs: Number(o.runs),
      batch: Number(o.batch),
      backend: o.backend,
    });
    console.log(`${SENTENCES.length} sentences, batches of ${o.batch}, ${r.cores} cores, ${o.dist}, ${o.backend}${r.adapter ? ` (${r.adapter})` : ''}`);
    r.starts.forEach((s, i) =>
      console.log(`worker ${i} start: ${s.wall.toFixed(0)} ms (instantiate ${s.instantiate.toFixed(0)}, replica ${s.load.toFixed(0)})`),
    );
    console.log(`${o.workers} workers: ${span(r.pool)}`);
    console.log(`page's thread: ${span(r.main)}`);
    console.log(`largest difference: ${r.maxDiff}`);
    console.log(
      `page's longest task: ${r.longestTaskWorkers.toFixed(0)} ms while the workers started and embedded, ` +
        `${r.longestTaskPageStart.toFixed(0)} ms while it started WebGPU itself, ${r.longestTaskPage.toFixed(0)} ms while it embedded`,
    );
    console.log(`each worker (ms): ${r.perWorker.map((p) => p.map((x) => x.toFixed(0)).join("/")).join(", ")}`);
    if (errors.length) console.log('page errors:', errors);
  } finally {
    await env.close();
  }
}
