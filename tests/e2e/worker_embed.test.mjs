// The app's wasm runs in a Web Worker: `main` mounts nothing there, and the
// exported MiniLM replica (src/runtime/embed_worker.rs) gives, in two
// workers, the embeddings it gives on the page's thread. On the CPU
// fallback the SimCSE page embeds through a pool of them
// (src/runtime/embed_pool.rs), and on the page's thread when they fail.
// scripts/worker_embed_probe.mjs measures the route.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, open, SLOW } from './browser.mjs';
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

describe('the app module in a Web Worker on WebGPU', { timeout: 5 * SLOW }, () => {
  let env;
  before(async () => {
    env = await launch({ webgpu: true });
  });
  after(async () => {
    await env?.close();
  });

  // The ground for moving WebGPU work off the page's thread: a worker owns a
  // device of its own (probe, init, self-test) and runs the model on it.
  test('a worker starts WebGPU itself and embeds as the page does on the CPU', async (t) => {
    const { page, errors } = await appPage(env);
    const sentences = SENTENCES.slice(0, 4);
    const r = await embedInWorkers(page, { sentences, workers: 1, runs: 1, batch: 4, backend: 'webgpu', pageBackend: 'cpu' });
    assert.equal(typeof r.adapter, 'string', 'the worker names its WebGPU adapter');
    assert.ok(r.adapter.length > 0);
    const dim = 384;
    assert.equal(r.rows.length, sentences.length * dim);
    t.diagnostic(`WebGPU worker (${r.adapter}) vs the page's CPU: rows differ by at most ${r.maxDiff}`);
    assert.ok(r.maxDiff <= 1e-4, `the WebGPU worker and the page's CPU differ by ${r.maxDiff}`);
    for (let i = 0; i < sentences.length; i++) {
      const norm = Math.hypot(...r.rows.slice(i * dim, (i + 1) * dim));
      assert.ok(Math.abs(norm - 1) < 1e-4, `sentence ${i}: norm ${norm}`);
    }
    assert.deepEqual(errors, []);
    await page.close();
  });
});

/** Every cell of the SimCSE heatmap once it shows `n` sentences, and who embedded them. */
async function heatmap(page, n) {
  const panel = page.locator('[data-testid="simcse-heatmap-panel"][data-state="done"]');
  await panel.locator(`[data-testid="simcse-heatmap"][data-n="${n}"]`).waitFor({ timeout: 4 * SLOW });
  const cells = await page.evaluate((n) => {
    const out = [];
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++)
        out.push(Number(document.querySelector(`[data-testid="simcse-cell-${i}-${j}"]`).dataset.value));
    return out;
  }, n);
  return { cells, workers: await panel.getAttribute('data-workers') };
}

const largestDifference = (a, b) => Math.max(...a.map((x, k) => Math.abs(x - b[k])));

async function defaultList(page) {
  return (await page.getByTestId('simcse-sentences').inputValue()).split('\n').length;
}

/** Replaces the sentence list as a paste would. */
async function paste(page, lines) {
  await page.getByTestId('simcse-sentences').fill(lines.join('\n'));
}

describe('the SimCSE page embeds in Web Workers on the CPU fallback', { timeout: 8 * SLOW }, () => {
  let env;
  let reference;
  const edited = SENTENCES.slice(0, 9);
  before(async () => {
    env = await launch({ webgpu: false });
    // The page's thread alone (?workers=0): the numbers to match.
    const { page, errors } = await open(env, '/simcse?lang=en&backend=cpu&sts=8&workers=0');
    const n = await defaultList(page);
    const first = await heatmap(page, n);
    assert.equal(first.workers, '0');
    assert.equal(page.workers().length, 0, 'no workers with ?workers=0');
    const sts = page.locator('[data-testid="simcse-sts-score"][data-state="done"]');
    await sts.waitFor({ timeout: 4 * SLOW });
    const stsValue = Number(await sts.getAttribute('data-value'));
    await paste(page, edited);
    reference = { n, first, edited: await heatmap(page, edited.length), sts: stsValue };
    assert.deepEqual(errors, []);
    await page.close();
  });
  after(async () => {
    await env?.close();
  });

  test('two workers make the heatmap, with the numbers of the page thread', async () => {
    const { page, errors } = await open(env, '/simcse?lang=en&backend=cpu&sts=8');
    const first = await heatmap(page, reference.n);
    assert.equal(first.workers, '2', 'the first list waits for the starting workers');
    assert.equal(page.workers().length, 2);
    const diff = largestDifference(first.cells, reference.first.cells);
    console.log(`# workers vs the page's thread: cosines differ by ${diff}`);
    assert.ok(diff <= 1e-5, `the default list's cosines differ by ${diff}`);
    await paste(page, edited);
    const again = await heatmap(page, edited.length);
    assert.equal(again.workers, '2');
    const diff2 = largestDifference(again.cells, reference.edited.cells);
    assert.ok(diff2 <= 1e-5, `an edited list's cosines differ by ${diff2}`);
    // The rest of the page works on the same encoder: search ranks, and the
    // STS score (scored by the workers too) is the page thread's.
    await page.locator('[data-testid="simcse-ranking"][data-state="done"]').waitFor({ timeout: 4 * SLOW });
    const sts = page.locator('[data-testid="simcse-sts-score"][data-state="done"]');
    await sts.waitFor({ timeout: 4 * SLOW });
    // Spearman's ρ over 8 pairs: rows within 1e-5 could at most swap two
    // near-equal cosines, which moves ρ by 6·2/(8·63) = 0.024.
    const rho = Number(await sts.getAttribute('data-value'));
    assert.ok(Math.abs(rho - reference.sts) < 0.025, `STS ρ ${rho} with workers, ${reference.sts} without`);
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('workers that cannot start, or that fail on a list: the page thread embeds, same numbers', async () => {
    // A browser whose workers cannot be made.
    const warnings = [];
    const blocked = await open(env, '/simcse?lang=en&backend=cpu&sts=8', {
      init: () => {
        window.Worker = class {
          constructor() {
            throw new Error('workers are blocked here');
          }
        };
      },
    });
    blocked.page.on('console', (m) => m.type() === 'warning' && warnings.push(m.text()));
    const first = await heatmap(blocked.page, reference.n);
    assert.equal(first.workers, '0');
    assert.ok(largestDifference(first.cells, reference.first.cells) <= 1e-6);
    assert.ok(warnings.some((w) => /workers are blocked here/.test(w)), `the console says why: ${warnings}`);
    assert.deepEqual(blocked.errors, []);
    await blocked.page.close();

    // Workers that start, then answer a list with an error (their token
    // counts do not add up): that list, and the later ones, on the page.
    const failing = await open(env, '/simcse?lang=en&backend=cpu&sts=8', {
      init: () => {
        const RealWorker = window.Worker;
        window.Worker = class extends RealWorker {
          postMessage(message, transfer) {
            // runtime/app_worker.rs's protocol: { call, args }.
            if (message && message.call === 'replica_embed_ids') {
              const [ids, , ...rest] = message.args;
              message = { ...message, args: [ids, new Uint32Array([1, 2, 3]), ...rest] };
            }
            super.postMessage(message, transfer);
          }
        };
      },
    });
    const fallback = await heatmap(failing.page, reference.n);
    assert.equal(fallback.workers, '0');
    assert.ok(largestDifference(fallback.cells, reference.first.cells) <= 1e-6);
    await paste(failing.page, edited);
    const later = await heatmap(failing.page, edited.length);
    assert.equal(later.workers, '0');
    assert.ok(largestDifference(later.cells, reference.edited.cells) <= 1e-6);
    assert.deepEqual(failing.errors, []);
    await failing.page.close();
  });
});
