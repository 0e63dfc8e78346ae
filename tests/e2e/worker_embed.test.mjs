// The app's wasm runs in a Web Worker: `main` mounts nothing there, and the
// exported MiniLM replica (src/runtime/embed_worker.rs) gives, in two
// workers, the embeddings it gives on the page's thread. The ground for a
// parallel CPU fallback (scripts/worker_embed_probe.mjs measures it).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, SLOW } from './browser.mjs';
import { appPage, embedInWorkers, SENTENCES } from '../../scripts/worker_embed_probe.mjs';

describe('the app module in Web Workers', { timeout: 5 * SLOW }, () => {
  let env;
  before(async () => {
    env = await launch({ webgpu: false });
  });
  after(async () => {
    await env?.close();
  });

  test('two workers embed their halves as the page does, unit rows, no errors', async () => {
    const { page, errors } = await appPage(env);
    const sentences = SENTENCES.slice(0, 6);
    const r = await embedInWorkers(page, { sentences, workers: 2, runs: 1, batch: 4 });
    const dim = 384;
    assert.equal(r.rows.length, sentences.length * dim);
    assert.ok(r.maxDiff <= 1e-6, `workers and page differ by ${r.maxDiff}`);
    for (let i = 0; i < sentences.length; i++) {
      const row = r.rows.slice(i * dim, (i + 1) * dim);
      const norm = Math.hypot(...row);
      assert.ok(Math.abs(norm - 1) < 1e-4, `sentence ${i}: norm ${norm}`);
    }
    // Each worker embedded its own sentences: rows differ, and the paraphrase
    // pair (sentences 0 and 1) is closer than an unrelated one (0 and 2).
    const dot = (a, b) => {
      let s = 0;
      for (let k = 0; k < dim; k++) s += r.rows[a * dim + k] * r.rows[b * dim + k];
      return s;
    };
    assert.ok(dot(0, 1) > dot(0, 2), `cos(0,1) ${dot(0, 1)} vs cos(0,2) ${dot(0, 2)}`);
    assert.ok(dot(0, 3) < 0.99, 'rows from the two workers are different sentences');
    assert.deepEqual(errors, []);
    await page.close();
  });
});
