// `make bench`: every demo's speed in the browser and natively, beside
// PyTorch and transformers.js on the same weights and inputs. Runs the four
// producers (scripts/bench/CONTRACT.md), merges what they measured, and writes
// BENCHMARKS.json (every figure with its samples, median, min, max) and
// BENCHMARKS.md, a table made from that JSON and nothing else.
//
//   node scripts/bench/run.mjs [--smoke] [--runs N] [--out-dir DIR] [--only app,tjs,native,torch] [--profile release|dev]
//                              [--app-ids ID,...] [--app-backends cpu,webgpu] [--tjs-backends ort-wasm-1t,...] [--keep OLD_BENCHMARKS.json]
//
// --smoke: one warm-up and one measured run of everything (the test in
// `make test` that keeps the harness from rotting); writes to --out-dir
// (default: a temporary folder), never over the committed report.
//
// --keep: figures of an earlier report that this run does not measure are
// carried over, each marked with the date of the run that measured it (to
// re-measure a few figures, --only and --app-ids, without the hour the rest
// takes on SwiftShader).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');
export const SCHEMA = 'pretext-bench/1';

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** Median, min, max, runs; throughput and GFLOP/s for timing figures. */
export function summarise(f) {
  const out = { ...f, median: median(f.samples), min: Math.min(...f.samples), max: Math.max(...f.samples), runs: f.samples.length };
  if (f.unit === 'ms') {
    if (f.items_per_call) out.per_second = (f.items_per_call * 1000) / out.median;
    if (f.flops_per_call) out.gflops = f.flops_per_call / out.median / 1e6;
  }
  return out;
}

/**
 * Pairs each of our timing figures with every peer figure of the same id on
 * comparable ground (in the browser: CPU fallback ↔ ONNX Runtime's wasm,
 * WebGPU ↔ its webgpu; natively: any burn backend ↔ PyTorch CPU), measured on
 * the same machine boot: figures carried over (--keep) from another session
 * ran on another machine (two 2-core sessions here measured the same ndarray
 * sgemm at 20.9 and 11.7 ms), so a ratio never mixes boots.
 * ratio = our median / their median: below 1 we are faster.
 */
export function compare(figures) {
  const kind = (f) => (f.where === 'browser' ? (/webgpu/.test(f.backend) ? 'webgpu' : 'cpu') : 'native');
  const out = [];
  for (const ours of figures.filter((f) => f.system === 'pretext' && f.unit === 'ms')) {
    for (const peer of figures.filter((f) => f.system !== 'pretext' && f.id === ours.id && f.unit === 'ms')) {
      if (ours.where !== peer.where) continue;
      if ((ours.boot_id ?? null) !== (peer.boot_id ?? null)) continue;
      if (ours.where === 'browser' && kind(ours) !== kind(peer)) continue;
      out.push({
        id: ours.id,
        where: ours.where,
        ours: `${ours.system}/${ours.backend}`,
        peer: `${peer.system}/${peer.backend}`,
        ours_ms: ours.median,
        peer_ms: peer.median,
        ratio: ours.median / peer.median,
        // ↺ in the table says both figures were carried over; one re-measured
        // on the same boot makes the pair current.
        ...(ours.measured_on && peer.measured_on ? { measured_on: ours.measured_on } : {}),
      });
    }
  }
  return out;
}

/** The hardware line of the roofline: the best sgemm rate measured here. */
export function ceiling(figures, bootId) {
  // This machine boot's sgemm where it has one: the same test as compare()'s
  // (figures carried over from another session ran on another machine).
  const all = figures.filter((f) => f.id === 'sgemm_1024' && f.gflops);
  const here = all.filter((f) => (f.boot_id ?? null) === bootId);
  const sgemm = here.length ? here : all;
  if (!sgemm.length) return null;
  const best = sgemm.reduce((a, b) => (b.gflops > a.gflops ? b : a));
  return { gflops: best.gflops, from: `${best.system}/${best.backend}`, what: best.what };
}

/** Throws with every problem found: the smoke test's check, and run before writing. */
export function validate(report) {
  const problems = [];
  const need = (cond, msg) => cond || problems.push(msg);
  need(report.schema === SCHEMA, `schema is ${report.schema}, not ${SCHEMA}`);
  need(!Number.isNaN(Date.parse(report.date)), 'date is not a date');
  for (const k of ['cpu', 'cores', 'os']) need(report.machine?.[k], `machine.${k} missing`);
  need(Array.isArray(report.figures) && report.figures.length > 0, 'no figures');
  const minRuns = report.smoke ? 1 : 5;
  for (const f of report.figures ?? []) {
    const name = `${f.id} (${f.system}/${f.backend})`;
    for (const k of ['id', 'system', 'backend', 'where', 'what', 'unit']) need(typeof f[k] === 'string' && f[k], `${name}: ${k} missing`);
    need(['ms', 'bytes'].includes(f.unit), `${name}: unit ${f.unit}`);
    need(Array.isArray(f.samples) && f.samples.length >= (f.unit === 'bytes' ? 1 : minRuns), `${name}: ${f.samples?.length} samples`);
    for (const k of ['median', 'min', 'max', ...(f.unit === 'ms' && f.items_per_call ? ['per_second'] : []), ...(f.flops_per_call ? ['gflops'] : [])]) {
      need(Number.isFinite(f[k]) && f[k] > 0, `${name}: ${k} = ${f[k]} is not finite and positive`);
    }
    for (const s of f.samples ?? []) need(Number.isFinite(s) && s > 0, `${name}: sample ${s} is not finite and positive`);
    need(f.min <= f.median && f.median <= f.max, `${name}: min ≤ median ≤ max fails`);
    for (const k of ['longest_task_ms', 'longest_task_warmup_ms']) {
      if (f[k] !== undefined) need(Number.isFinite(f[k]) && f[k] >= 0, `${name}: ${k} = ${f[k]} is not finite and non-negative`);
    }
  }
  for (const c of report.comparisons ?? []) need(Number.isFinite(c.ratio) && c.ratio > 0, `comparison ${c.id}: ratio ${c.ratio}`);
  for (const s of report.skipped ?? []) need(s.id && s.why, `a skipped entry without id or why: ${JSON.stringify(s)}`);
  if (problems.length) throw new Error(`BENCHMARKS.json is not valid:\n  ${problems.join('\n  ')}`);
}

function runProducer(name, cmd, args, out, log) {
  const t0 = Date.now();
  log(`— ${name}: ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'], env: process.env });
  log(`— ${name}: exit ${r.status} after ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  if (r.status !== 0 || !fs.existsSync(out)) throw new Error(`${name} failed (exit ${r.status ?? r.error})`);
  return JSON.parse(fs.readFileSync(out, 'utf8'));
}

function machine() {
  const cpus = os.cpus();
  // Linux's id of this boot: equal only for figures measured on one machine in one session.
  let bootId = null;
  try {
    bootId = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {}
  return { cpu: cpus[0]?.model ?? 'unknown', cores: cpus.length, memory_gib: +(os.totalmem() / 2 ** 30).toFixed(1), os: `${os.type()} ${os.release()} ${os.arch()}`, boot_id: bootId };
}

const fmt = (x, digits = 3) => {
  if (x >= 100) return Math.round(x).toLocaleString('en-US');
  return Number(x.toPrecision(digits)).toString();
};
const bytes = (b) => (b >= 2 ** 20 ? `${(b / 2 ** 20).toFixed(2)} MiB` : `${(b / 1024).toFixed(1)} KiB`);

/** BENCHMARKS.md from the report object alone. */
export function markdown(report) {
  const L = [];
  const roof = report.ceiling;
  L.push('# Benchmarks', '');
  L.push(`Written by \`make bench\` (scripts/bench/run.mjs) on ${report.date}${report.smoke ? ' — **smoke run: one sample each, not figures to quote**' : ''}. Every number below comes from BENCHMARKS.json beside this file; nothing is typed by hand.`, '');
  L.push(`- Machine: ${report.machine.cpu}, ${report.machine.cores} cores, ${report.machine.memory_gib} GiB, ${report.machine.os}`);
  for (const [k, v] of Object.entries(report.versions)) L.push(`- ${k}: ${v}`);
  if (roof) L.push(`- Roofline ceiling: ${fmt(roof.gflops)} GFLOP/s, the best 1024³ sgemm measured here (${roof.from}); "% peak" is a figure's model FLOPs per second over it.`);
  const earlier = [...new Set(report.figures.filter((f) => f.measured_on).map((f) => f.measured_on))];
  if (earlier.length) L.push(`- Figures marked ↺ were measured by the earlier run of ${earlier.join(', ')} and carried over (--keep); the others by this run.`);
  L.push('', 'Times are per call: median of the warm runs (min–max). Lower is better; per-second figures are items_per_call / median.', '');
  const timing = report.figures.filter((f) => f.unit === 'ms');
  for (const [where, title] of [['browser', 'In the browser (headless Chromium)'], ['native', 'Natively']]) {
    const rows = timing.filter((f) => f.where === where);
    if (!rows.length) continue;
    L.push(`## ${title}`, '', '| work | system / backend | median ms | min–max ms | runs | per second | GFLOP/s | % peak | longest task ms |', '|---|---|---:|---:|---:|---:|---:|---:|---:|');
    for (const f of rows) {
      L.push(`| ${f.id}${f.measured_on ? ' ↺' : ''} | ${f.system} / ${f.backend} | ${fmt(f.median)} | ${fmt(f.min)}–${fmt(f.max)} | ${f.runs} | ${f.per_second ? `${fmt(f.per_second)} ${f.item}/s` : ''} | ${f.gflops ? fmt(f.gflops) : ''} | ${f.gflops && roof ? `${fmt((100 * f.gflops) / roof.gflops, 2)}%` : ''} | ${f.longest_task_ms !== undefined ? fmt(f.longest_task_ms) : ''}${f.longest_task_warmup_ms !== undefined ? ` (warm-up ${fmt(f.longest_task_warmup_ms)})` : ''} |`);
    }
    L.push('');
  }
  if (report.comparisons.length) {
    L.push('## Ours vs the peers, same work', '', 'ratio = our median time / theirs: below 1 we are faster. Both figures of a ratio come from one machine boot (↺: both carried over from an earlier session); a figure whose peer ran in another session has no ratio.', '', '| work | where | ours | peer | ours ms | peer ms | ratio |', '|---|---|---|---|---:|---:|---:|');
    for (const c of report.comparisons) L.push(`| ${c.id}${c.measured_on ? ' ↺' : ''} | ${c.where} | ${c.ours} | ${c.peer} | ${fmt(c.ours_ms)} | ${fmt(c.peer_ms)} | **${fmt(c.ratio, 2)}** |`);
    L.push('');
  }
  const sizes = report.figures.filter((f) => f.unit === 'bytes');
  if (sizes.length) {
    L.push('## Sizes', '', '| what | bytes | |', '|---|---:|---|');
    for (const f of sizes) L.push(`| ${f.id}${f.measured_on ? ' ↺' : ''} | ${f.median.toLocaleString('en-US')} | ${bytes(f.median)} |`);
    L.push('');
  }
  L.push('## What each figure measures', '');
  const seen = new Set();
  for (const f of report.figures) {
    const key = `${f.id}|${f.system}`;
    if (seen.has(key)) continue;
    seen.add(key);
    L.push(`- **${f.id}** (${f.system}): ${f.what}`);
  }
  if (report.skipped.length) {
    L.push('', '## Not measured in this run', '');
    for (const s of report.skipped) L.push(`- ${s.id} (${s.system ?? ''}/${s.backend ?? ''}): ${s.why}`);
  }
  L.push('', `Adapters: ${[...new Set(report.figures.filter((f) => f.adapter).map((f) => `${f.system}/${f.backend}: ${f.adapter}`))].join('; ')}`, '');
  return L.join('\n');
}

export async function bench({ smoke = false, runs = 5, only = ['app', 'tjs', 'native', 'torch'], profile = 'release', appIds = null, appBackends = null, tjsBackends = null, keep = null, outDir, log = console.error } = {}) {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pretext-bench-'));
  const parts = [];
  const skipped = [];
  const flags = smoke ? ['--smoke'] : ['--runs', String(runs)];
  const tryPart = async (name, fn) => {
    try {
      parts.push(await fn());
    } catch (e) {
      log(`${name}: ${e.message}`);
      skipped.push({ id: name, system: name, backend: 'all', why: e.message.split('\n')[0] });
    }
  };
  if (only.includes('native')) {
    const out = path.join(work, 'native.json');
    const cargo = ['run', '--quiet', ...(profile === 'release' ? ['--release'] : []), '--example', 'bench_native', '--', '--out', out, ...flags];
    await tryPart('native', () => runProducer('native burn', 'cargo', cargo, out, log));
  }
  if (only.includes('torch')) {
    const out = path.join(work, 'torch.json');
    const venv = path.join(os.homedir(), '.cache/pretext/pyref/bin/python');
    const python = fs.existsSync(venv) ? venv : 'python3';
    await tryPart('torch', () => runProducer('PyTorch', python, ['scripts/bench/torch_peers.py', '--out', out, ...flags], out, log));
  }
  if (only.includes('tjs')) {
    const out = path.join(work, 'tjs.json');
    const backends = tjsBackends ? ['--backends', tjsBackends.join(',')] : [];
    await tryPart('transformers.js', () => runProducer('transformers.js in Chromium', 'node', ['scripts/bench/transformers_js.mjs', '--out', out, ...flags, ...backends], out, log));
  }
  if (only.includes('app')) {
    const out = path.join(work, 'app.json');
    const ids = appIds ? ['--ids', appIds.join(',')] : [];
    const backends = appBackends ? ['--backends', appBackends.join(',')] : [];
    await tryPart('app', () => runProducer('the app in Chromium', 'node', ['scripts/bench/app_browser.mjs', '--out', out, ...flags, ...ids, ...backends], out, log));
  }
  const here = machine();
  const figures = parts.flatMap((p) => p.figures.map((f) => ({ ...summarise(f), boot_id: here.boot_id })));
  const versions = {};
  const kept = keep ? JSON.parse(fs.readFileSync(keep, 'utf8')) : null;
  if (kept) {
    const key = (f) => `${f.id}|${f.system}|${f.backend}`;
    const measured = new Set(figures.map(key));
    for (const f of kept.figures) {
      if (measured.has(key(f))) continue;
      figures.push({ ...f, measured_on: f.measured_on ?? kept.date, boot_id: f.boot_id ?? kept.machine?.boot_id ?? null });
    }
    Object.assign(versions, kept.versions);
  }
  for (const p of parts) for (const [k, v] of Object.entries(p.env ?? {})) versions[`${p.producer} ${k}`] = typeof v === 'string' ? v : JSON.stringify(v);
  const report = {
    schema: SCHEMA,
    date: new Date().toISOString(),
    smoke,
    machine: here,
    versions,
    figures,
    comparisons: compare(figures),
    ceiling: ceiling(figures, here.boot_id),
    skipped: [...skipped, ...parts.flatMap((p) => p.skipped ?? [])],
  };
  validate(report);
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(path.join(outDir, 'BENCHMARKS.json'), `${JSON.stringify(report, null, 1)}\n`);
  fs.writeFileSync(path.join(outDir, 'BENCHMARKS.md'), markdown(report));
  fs.rmSync(work, { recursive: true, force: true });
  return report;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const arg = (name, fallback) => {
    const i = process.argv.indexOf(name);
    return i < 0 ? fallback : process.argv[i + 1];
  };
  const smoke = process.argv.includes('--smoke');
  const outDir = arg('--out-dir', smoke ? fs.mkdtempSync(path.join(os.tmpdir(), 'pretext-bench-smoke-')) : ROOT);
  const report = await bench({
    smoke,
    runs: Number(arg('--runs', 5)),
    only: arg('--only', 'app,tjs,native,torch').split(','),
    profile: arg('--profile', 'release'),
    appIds: arg('--app-ids', null)?.split(',') ?? null,
    appBackends: arg('--app-backends', null)?.split(',') ?? null,
    tjsBackends: arg('--tjs-backends', null)?.split(',') ?? null,
    keep: arg('--keep', null),
    outDir,
  });
  console.log(fs.readFileSync(path.join(outDir, 'BENCHMARKS.md'), 'utf8'));
  console.error(`wrote ${outDir}/BENCHMARKS.md and BENCHMARKS.json (${report.figures.length} figures, ${report.skipped.length} not measured)`);
}
