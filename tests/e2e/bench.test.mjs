// The benchmark harness's smoke test (`make bench` must not silently rot): one
// cold run of every measurement — the app's pages (all on the CPU fallback,
// fill-mask on WebGPU too), the native burn producer on flex, ndarray and wgpu,
// transformers.js on wasm and webgpu, PyTorch where installed — then the
// report's schema, and every figure finite and positive. Speed is never
// asserted here.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'node:test';
import { bench, compare, validate } from '../../scripts/bench/run.mjs';

// What the smoke run must have measured, not skipped: all of our own figures.
const APP = ['fill_mask_12tok', 'fill_mask_new_lengths', 'embed_b1', 'embed_b32', 'igpt_ms_per_pixel', 'igpt_bottom_half', 'simclr_train_step_b32', 'simcse_train_step', 'cold_start_empty_cache', 'cold_start_warm_cache'];
const NATIVE = ['bert_forward_b32x16', 'bert_forward_b1', 'igpt_train_step', 'simclr_train_step_b32', 'sgemm_1024'];

test('make bench: a smoke run of every measurement writes a valid report', { timeout: 40 * 60_000 }, async () => {
  const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pretext-bench-smoke-'));
  // The dev profile: `cargo test` has already built it, so the native producer costs no release build.
  const report = await bench({ smoke: true, profile: 'dev', outDir, log: (m) => console.log(`# ${m}`) });
  const written = JSON.parse(fs.readFileSync(path.join(outDir, 'BENCHMARKS.json'), 'utf8'));
  validate(written);
  assert.deepEqual(written.figures.length, report.figures.length);
  const has = (system, backend, id) => written.figures.some((f) => f.system === system && f.backend === backend && f.id === id);
  // Every app figure on the CPU fallback; on WebGPU (minutes per figure on SwiftShader) the smoke run checks one.
  for (const id of APP) assert.ok(has('pretext', 'cpu', id), `pretext/cpu ${id} was not measured`);
  assert.ok(has('pretext', 'webgpu', 'fill_mask_12tok'), 'pretext/webgpu fill_mask_12tok was not measured');
  for (const id of APP.slice(1)) assert.ok(written.skipped.some((s) => s.backend === 'webgpu' && id.startsWith(s.id) && s.why), `pretext/webgpu ${id}: neither measured nor skipped`);
  for (const id of ['wasm_bytes', 'wasm_gzip_bytes', 'downloads_bert', 'downloads_igpt', 'downloads_simclr', 'downloads_simcse']) assert.ok(has('pretext', 'any', id), `${id} was not measured`);
  for (const backend of ['burn-flex', 'burn-ndarray', 'burn-wgpu-vulkan']) for (const id of NATIVE) assert.ok(has('pretext', backend, id), `native ${backend} ${id} was not measured`);
  // transformers.js on the int8 ONNX needs no PyTorch: it must run here on both backends.
  for (const id of ['embed_b1', 'embed_b32']) {
    assert.ok(written.figures.some((f) => f.system === 'transformers.js' && f.id === id && /int8/.test(f.backend) && !/webgpu/.test(f.backend)), `transformers.js wasm int8 ${id}`);
    assert.ok(written.figures.some((f) => f.system === 'transformers.js' && f.id === id && /int8/.test(f.backend) && /webgpu/.test(f.backend)), `transformers.js webgpu int8 ${id}`);
  }
  // PyTorch is measured where `make bench` installed it, and otherwise named as not measured, with why.
  for (const id of NATIVE) {
    const measured = written.figures.some((f) => f.system === 'pytorch' && f.id === id);
    const skipped = written.skipped.some((s) => s.system === 'pytorch' && s.id === id && s.why);
    assert.ok(measured || skipped, `pytorch ${id}: neither measured nor skipped with a reason`);
  }
  // Our figures pair with the peers' on the same work.
  assert.ok(written.comparisons.some((c) => c.id === 'embed_b32' && c.where === 'browser'), 'no browser embed_b32 comparison');
  const md = fs.readFileSync(path.join(outDir, 'BENCHMARKS.md'), 'utf8');
  for (const f of written.figures) assert.ok(md.includes(`| ${f.id} |`), `BENCHMARKS.md lacks ${f.id}`);
  // A corrupted report must fail the check (the check itself can fail).
  const broken = structuredClone(written);
  broken.figures[0].median = Number.NaN;
  assert.throws(() => validate(broken), /not finite and positive/);
  fs.rmSync(outDir, { recursive: true, force: true });
});

test('ratios pair figures of one machine boot only, on comparable backends', () => {
  const fig = (system, backend, where, median, boot_id) => ({ id: 'embed_b1', system, backend, where, unit: 'ms', median, boot_id });
  const figures = [
    fig('pretext', 'cpu', 'browser', 20, 'boot-b'),
    fig('pretext', 'webgpu', 'browser', 900, null),
    fig('transformers.js', 'ort-wasm-1t', 'browser', 40, 'boot-b'),
    fig('transformers.js', 'ort-wasm-2t', 'browser', 30, null),
    fig('transformers.js', 'ort-webgpu', 'browser', 300, null),
  ];
  const pairs = compare(figures).map((c) => `${c.ours}:${c.peer}:${c.ratio}`);
  // cpu ↔ the wasm figure of the same boot; the carried-over webgpu pair stays; cpu ↔ another boot's wasm and any cpu ↔ webgpu pair are left out.
  assert.deepEqual(pairs.sort(), ['pretext/cpu:transformers.js/ort-wasm-1t:0.5', 'pretext/webgpu:transformers.js/ort-webgpu:3']);
  // ↺ only where both figures were carried over (--keep).
  const carried = (f) => ({ ...f, measured_on: '2026-01-01' });
  const [ourOldPeerNew] = compare([carried(figures[0]), figures[2]]);
  assert.equal(ourOldPeerNew.measured_on, undefined);
  const [bothOld] = compare([carried(figures[0]), carried(figures[2])]);
  assert.equal(bothOld.measured_on, '2026-01-01');
});
