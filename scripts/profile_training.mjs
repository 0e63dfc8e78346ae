// Where a demo's long main-thread tasks go: records a CDP CPU profile of a
// training run (SimCLR or SimCSE, on the page's training driver) and prints
// the longest busy stretches and the functions in the longest of them.
//
//   trunk build --dist /tmp/profdist      # keeps the wasm name section
//   node scripts/profile_training.mjs --dist /tmp/profdist --demo simclr --backend webgpu
//
// `make dist` runs wasm-opt, which drops the name section: profiles of that
// build show only wasm-function[N]. A diagnostic, not a test or a benchmark.
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { launch, STARTS_WORK } from '../tests/e2e/browser.mjs';
import { TRAINING_DEMOS } from './bench/app_browser.mjs';

const { values: o } = parseArgs({
  options: {
    dist: { type: 'string', default: 'dist' },
    demo: { type: 'string', default: 'simclr' },
    backend: { type: 'string', default: 'cpu' },
    steps: { type: 'string', default: '7' },
    stretch: { type: 'string', default: '0' }, // 0: the longest busy stretch, 1: the next…
    top: { type: 'string', default: '25' },
    out: { type: 'string' }, // also write the raw profile here
  },
});
const demo = TRAINING_DEMOS[o.demo];
if (!demo) throw new Error(`--demo is one of ${Object.keys(TRAINING_DEMOS).join(', ')}`);

const env = await launch({ webgpu: o.backend === 'webgpu', dist: path.resolve(o.dist) });
env.context.setDefaultTimeout(0); // SwiftShader's first tuned step can take minutes
try {
  const page = await env.context.newPage();
  await page.goto(`${env.server.url}${demo.route}&backend=${o.backend}&steps=${o.steps}`);
  await demo.ready(page);
  const cdp = await env.context.newCDPSession(page);
  await cdp.send('Profiler.enable');
  await cdp.send('Profiler.setSamplingInterval', { interval: 1000 }); // µs
  await cdp.send('Profiler.start');
  await page.getByTestId(demo.start).click({ ...STARTS_WORK, timeout: 0 });
  await page.getByTestId(`${demo.prefix}-step`).and(page.locator('[data-state="done"]')).waitFor();
  await page.waitForTimeout(3000); // what the end of a run starts (the SimCLR embedding)
  const { profile } = await cdp.send('Profiler.stop');
  if (o.out) fs.writeFileSync(o.out, JSON.stringify(profile));
  report(profile, Number(o.stretch), Number(o.top));
} finally {
  await env.close();
}

function report(profile, which, top) {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const name = (id) => {
    const f = nodes.get(id).callFrame;
    return f.functionName || `(${f.url.split('/').pop()})`;
  };
  // Busy stretches: runs of samples between "(idle)" samples. Tasks that
  // follow each other without idle time (a loop yielding through a message)
  // merge into one stretch, so a stretch is at least as long as its longest
  // task; the longtask figures of `make bench` are the tasks themselves.
  const stretches = [];
  let t = profile.startTime;
  let current = null;
  profile.samples.forEach((id, i) => {
    t += profile.timeDeltas[i];
    // A sample stands for the time until the next one (the sampler falls
    // behind its 1 ms interval when the machine is busy).
    const ms = (profile.timeDeltas[i + 1] ?? 0) / 1000;
    if (name(id) === '(idle)') {
      if (current) stretches.push(current);
      current = null;
    } else {
      current ??= { from: t, to: t, samples: [] };
      current.to = t + ms * 1000;
      current.samples.push([id, ms]);
    }
  });
  if (current) stretches.push(current);
  stretches.sort((a, b) => b.to - b.from - (a.to - a.from));
  console.log('longest busy stretches, ms:', stretches.slice(0, 8).map((s) => Math.round((s.to - s.from) / 1000)).join(', '));
  const s = stretches[which];
  if (!s) return;
  const self = new Map();
  const inclusive = new Map();
  for (const [id, ms] of s.samples) {
    self.set(name(id), (self.get(name(id)) ?? 0) + ms);
    const seen = new Set();
    for (let at = id; at !== undefined; at = parent.get(at)) seen.add(name(at));
    for (const n of seen) inclusive.set(n, (inclusive.get(n) ?? 0) + ms);
  }
  const show = (title, m, k) => {
    console.log(`${title}, ms of the stretch's ${Math.round((s.to - s.from) / 1000)} (${s.samples.length} samples):`);
    for (const [n, ms] of [...m].sort((a, b) => b[1] - a[1]).slice(0, k)) console.log(`  ${String(Math.round(ms)).padStart(7)}  ${n.slice(0, 140)}`);
  };
  show('self', self, top);
  show('inclusive', inclusive, 2 * top);
}
