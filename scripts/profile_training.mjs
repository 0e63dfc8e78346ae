// Where a demo's long main-thread tasks go: records a CDP CPU profile of a
// training run (SimCLR or SimCSE, on the page's training driver) next to the
// page's own long tasks (a PerformanceObserver, as `make bench` counts them),
// and prints, for each task over 50 ms, the functions it spent its time in.
//
//   trunk build --dist /tmp/profdist      # keeps the wasm name section
//   node scripts/profile_training.mjs --dist /tmp/profdist --demo simclr --backend cpu
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
    top: { type: 'string', default: '25' },
    out: { type: 'string' }, // also write the raw profile here
  },
});
const demo = TRAINING_DEMOS[o.demo];
if (!demo) throw new Error(`--demo is one of ${Object.keys(TRAINING_DEMOS).join(', ')}`);

// The marker's samples tie the profile's clock to the page's performance.now().
const MARKER = 'profileClockMarker';

const env = await launch({ webgpu: o.backend === 'webgpu', dist: path.resolve(o.dist) });
env.context.setDefaultTimeout(0); // SwiftShader's first tuned step can take minutes
try {
  const page = await env.context.newPage();
  await page.addInitScript(() => {
    window.__longTasks = [];
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) window.__longTasks.push([e.startTime, e.duration]);
    }).observe({ type: 'longtask', buffered: true });
  });
  await page.goto(`${env.server.url}${demo.route}&backend=${o.backend}&steps=${o.steps}`);
  await demo.ready(page);
  const cdp = await env.context.newCDPSession(page);
  await cdp.send('Profiler.enable');
  await cdp.send('Profiler.setSamplingInterval', { interval: 500 }); // µs
  await cdp.send('Profiler.start');
  const markedAt = await page.evaluate(() => {
    window.__longTasks.length = 0;
    const at = performance.now();
    // A named 30 ms busy loop (the name is MARKER's): its first sample is at `at`.
    function profileClockMarker() {
      const end = performance.now() + 30;
      while (performance.now() < end);
    }
    profileClockMarker();
    return at;
  });
  await page.getByTestId(demo.start).click({ ...STARTS_WORK, timeout: 0 });
  await page.getByTestId(`${demo.prefix}-step`).and(page.locator('[data-state="done"]')).waitFor();
  await page.waitForTimeout(3000); // what the end of a run starts (the SimCLR embedding)
  const { profile } = await cdp.send('Profiler.stop');
  const longTasks = (await page.evaluate(() => window.__longTasks)).filter(([start]) => start > markedAt + 30);
  if (o.out) fs.writeFileSync(o.out, JSON.stringify(profile));
  report(profile, markedAt, longTasks, Number(o.top));
} finally {
  await env.close();
}

function report(profile, markedAt, longTasks, top) {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const name = (id) => {
    const f = nodes.get(id).callFrame;
    return f.functionName || `(${f.url.split('/').pop()})`;
  };
  // Each sample at its time on the page's clock; it stands for the time until
  // the next one (the sampler falls behind its interval on a busy machine).
  const samples = [];
  let t = profile.startTime;
  let marker = null;
  profile.samples.forEach((id, i) => {
    t += profile.timeDeltas[i];
    if (marker === null && name(id) === MARKER) marker = t;
    samples.push({ id, t, ms: (profile.timeDeltas[i + 1] ?? 0) / 1000 });
  });
  if (marker === null) throw new Error('the clock marker is not in the profile');
  for (const s of samples) s.at = (s.t - marker) / 1000 + markedAt;
  console.log(`long tasks after the start click: ${longTasks.length ? longTasks.map(([s, d]) => `${Math.round(d)} ms at +${Math.round(s - markedAt)} ms`).join(', ') : 'none'}`);
  for (const [start, duration] of longTasks) {
    const inclusive = new Map();
    for (const s of samples) {
      if (s.at < start || s.at > start + duration) continue;
      const seen = new Set();
      for (let at = s.id; at !== undefined; at = parent.get(at)) seen.add(name(at));
      for (const n of seen) inclusive.set(n, (inclusive.get(n) ?? 0) + s.ms);
    }
    console.log(`\nthe ${Math.round(duration)} ms task at +${Math.round(start - markedAt)} ms, inclusive ms:`);
    for (const [n, ms] of [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, top)) {
      console.log(`  ${String(Math.round(ms)).padStart(5)}  ${n.slice(0, 140)}`);
    }
  }
}
