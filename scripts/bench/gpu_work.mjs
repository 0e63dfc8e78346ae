// How much WebGPU work one call is, ours beside transformers.js: compute
// dispatches (kernels), queue submits, buffer readbacks (mapAsync, and how
// long they were awaited), buffers, bind groups and pipelines created, and
// bytes uploaded. Counted by wrapping the WebGPU API in the page before any
// script runs; the figures are counts, so the machine's load does not move
// them (the milliseconds printed beside them are for orientation only).
// A profile for issue 8's "kernel count per step, readback waits", not a
// figure of `make bench`.
//
//   node scripts/bench/gpu_work.mjs [--only fill_mask,simclr,tjs]
//
// Needs a built app in dist/ (make dist or make wasm) and, for the peer, the
// fp32 ONNX of `make bench-setup`.
import { launch, open, settledBackend } from '../../tests/e2e/browser.mjs';
import { assembleModel, launch as launchPeer, startServer as startPeerServer } from './transformers_js.mjs';
import { FILL_MASK, SENTENCES, fillMaskShown } from './app_browser.mjs';

// Installed before any page script. Sums, never samples: every call counts.
const GPU_COUNTERS = () => {
  const zero = () => ({ dispatches: 0, submits: 0, command_buffers: 0, readbacks: 0, readback_wait_ms: 0, buffers: 0, buffer_bytes: 0, writes: 0, write_bytes: 0, bind_groups: 0, pipelines: 0, shader_modules: 0 });
  window.__gpu = zero();
  window.__gpuReset = () => (window.__gpu = zero());
  const wrap = (proto, name, count) => {
    const orig = proto?.[name];
    if (!orig) return;
    proto[name] = function (...args) {
      return count.call(this, () => orig.apply(this, args), args);
    };
  };
  const g = () => window.__gpu;
  wrap(self.GPUComputePassEncoder?.prototype, 'dispatchWorkgroups', (run) => (g().dispatches++, run()));
  wrap(self.GPUComputePassEncoder?.prototype, 'dispatchWorkgroupsIndirect', (run) => (g().dispatches++, run()));
  wrap(self.GPUQueue?.prototype, 'submit', (run, [buffers]) => (g().submits++, (g().command_buffers += buffers?.length ?? 0), run()));
  wrap(self.GPUQueue?.prototype, 'writeBuffer', (run, args) => (g().writes++, (g().write_bytes += args[4] ?? args[2]?.byteLength ?? 0), run()));
  wrap(self.GPUDevice?.prototype, 'createBuffer', (run, [desc]) => (g().buffers++, (g().buffer_bytes += desc?.size ?? 0), run()));
  wrap(self.GPUDevice?.prototype, 'createBindGroup', (run) => (g().bind_groups++, run()));
  wrap(self.GPUDevice?.prototype, 'createComputePipeline', (run) => (g().pipelines++, run()));
  wrap(self.GPUDevice?.prototype, 'createComputePipelineAsync', (run) => (g().pipelines++, run()));
  wrap(self.GPUDevice?.prototype, 'createShaderModule', (run) => (g().shader_modules++, run()));
  wrap(self.GPUBuffer?.prototype, 'mapAsync', (run) => {
    const counters = g();
    counters.readbacks++;
    const t0 = performance.now();
    const p = run();
    p.then(() => (counters.readback_wait_ms += performance.now() - t0)).catch(() => {});
    return p;
  });
};

const diff = (a, b) => Object.fromEntries(Object.keys(b).map((k) => [k, Math.round((b[k] - (a?.[k] ?? 0)) * 10) / 10]));

async function appPage(env, route) {
  await env.context.addInitScript(GPU_COUNTERS);
  const { page } = await open(env, route);
  if ((await settledBackend(page)) !== 'webgpu') throw new Error('the page did not settle on WebGPU');
  return page;
}

async function fillMask() {
  const env = await launch({ webgpu: true });
  try {
    const page = await appPage(env, `/bert?lang=en&backend=webgpu&text=${encodeURIComponent(FILL_MASK[1])}`);
    await page.getByTestId('bert-model-status').and(page.locator('[data-state="done"]')).waitFor({ timeout: 0 });
    const shown = (text) => fillMaskShown(page, text);
    await shown(FILL_MASK[0]); // shaders compiled, pipelines cached
    await page.evaluate(() => window.__gpuReset());
    const ms = await shown(FILL_MASK[1]);
    return { id: 'fill_mask_12tok', system: 'pretext', ms, per_call: await page.evaluate(() => window.__gpu) };
  } finally {
    await env.close();
  }
}

async function simclr() {
  const env = await launch({ webgpu: true });
  try {
    const page = await appPage(env, '/simclr?lang=en&n=32&backend=webgpu&steps=4');
    await page.getByTestId('simclr-samples').click();
    await page.getByTestId('simclr-image-count').and(page.locator('[data-state="done"]')).waitFor({ timeout: 0 });
    // A snapshot of the counters at each step boundary (the step counter's data-value).
    await page.evaluate(() => {
      window.__gpuAt = {};
      const el = document.querySelector('[data-testid="simclr-step"]');
      new MutationObserver(() => (window.__gpuAt[el.dataset.value] ??= { ...window.__gpu, t: performance.now() })).observe(el, { attributes: true, attributeFilter: ['data-value'] });
    });
    await page.getByTestId('simclr-train').click();
    await page.getByTestId('simclr-step').and(page.locator('[data-state="done"]')).waitFor({ timeout: 0 });
    const at = await page.evaluate(() => window.__gpuAt);
    // Steps 3 and 4: past the first steps' shader compilation.
    const steps = [3, 4].filter((n) => at[n] && at[n - 1]).map((n) => ({ ...diff(at[n - 1], at[n]) }));
    if (!steps.length) throw new Error(`no step boundaries seen: ${Object.keys(at)}`);
    return { id: 'simclr_train_step_b32', system: 'pretext', ms: steps.map((s) => s.t), per_call: steps.map(({ t, ...s }) => s) };
  } finally {
    await env.close();
  }
}

async function transformersJs() {
  assembleModel();
  const server = await startPeerServer();
  const browser = await launchPeer({ webgpu: true, serverUrl: server.url, blocked: new Set() });
  try {
    await browser.context.addInitScript(GPU_COUNTERS);
    const page = await browser.context.newPage();
    await page.goto(`${server.url}/`);
    await page.waitForFunction(() => window.tjsBenchReady === true);
    await page.evaluate(() => window.tjsBench.load({ device: 'webgpu', dtype: 'fp32', model: 'all-MiniLM-L6-v2' }));
    const texts = SENTENCES.slice(0, 1);
    await page.evaluate((t) => window.tjsBench.call(t, false), texts);
    await page.evaluate(() => window.__gpuReset());
    const r = await page.evaluate((t) => window.tjsBench.call(t, false), texts);
    return { id: 'embed_b1', system: 'transformers.js ort-webgpu fp32', ms: r.ms, per_call: await page.evaluate(() => window.__gpu) };
  } finally {
    await browser.close();
    await server.close();
  }
}

const only = (process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : 'fill_mask,simclr,tjs').split(',');
const results = [];
for (const [name, fn] of [['fill_mask', fillMask], ['simclr', simclr], ['tjs', transformersJs]]) {
  if (!only.includes(name)) continue;
  const t0 = Date.now();
  try {
    results.push(await fn());
  } catch (e) {
    results.push({ id: name, error: String(e.message ?? e).split('\n')[0] });
  }
  console.error(`${name}: ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}
console.log(JSON.stringify(results, null, 1));
