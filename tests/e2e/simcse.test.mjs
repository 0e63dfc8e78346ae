// End-to-end tests of the SimCSE demo (/simcse) in headless Chromium, on
// WebGPU (SwiftShader) and on the CPU fallback.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, open, settledBackend, SLOW, STARTS_WORK } from './browser.mjs';

async function cell(page, i, j) {
  return Number(await page.getByTestId(`simcse-cell-${i}-${j}`).getAttribute('data-value'));
}

async function heatmapDone(page, n) {
  await page
    .locator(`[data-testid="simcse-heatmap-panel"][data-state="done"] [data-testid="simcse-heatmap"][data-n="${n}"]`)
    .waitFor({ timeout: 4 * SLOW });
}

for (const webgpu of [true, false]) {
  const backend = webgpu ? 'webgpu' : 'cpu';
  describe(`SimCSE ${webgpu ? 'on WebGPU (SwiftShader)' : 'on the CPU fallback'}`, { timeout: 15 * SLOW }, () => {
    let env;
    before(async () => {
      env = await launch({ webgpu });
    });
    after(async () => {
      await env?.close();
    });

    test('default sentences: paraphrases score above unrelated pairs; search ranks; STS shows; 10 unsupervised steps train', async () => {
      // Software WebGPU (SwiftShader) runs MiniLM at ~0.15 GFLOP/s: there the
      // STS score uses 8 evenly spread pairs, and training batches of 2 drawn
      // from the (short) default sentences (same code paths).
      const quick = webgpu ? '&sts=8&n=2&mine=1' : '&n=4';
      const t0 = Date.now();
      const mark = (what) => console.log(`# ${backend} ${what}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      const { page, errors } = await open(env, `/simcse?lang=en&backend=${backend}&steps=10${quick}`);
      assert.equal(await settledBackend(page), backend);
      const lines = (await page.getByTestId('simcse-sentences').inputValue()).split('\n');
      assert.ok(lines.length >= 10, 'a default list of sentences');
      await heatmapDone(page, lines.length);
      mark('heatmap');
      // Line 0 and 1 are paraphrases (a guitarist on stage), 0 and 4 unrelated (the stock market).
      const paraphrase = await cell(page, 0, 1);
      const unrelated = await cell(page, 0, 4);
      assert.ok(paraphrase > unrelated + 0.2, `paraphrase ${paraphrase} vs unrelated ${unrelated}`);
      assert.ok(Math.abs((await cell(page, 3, 3)) - 1) < 1e-3, 'a sentence is its own cosine 1');
      assert.equal(await cell(page, 2, 5), await cell(page, 5, 2), 'symmetric');
      const heatmap = page.getByTestId('simcse-heatmap');
      await heatmap.locator('canvas').hover();
      assert.match(await heatmap.locator('.heatmap-readout').innerText(), /cos -?\d/);

      // Semantic search: the default query is about a musician on stage.
      const ranking = page.locator('[data-testid="simcse-ranking"][data-state="done"]');
      await ranking.waitFor({ timeout: 4 * SLOW });
      mark('ranking');
      const top = await ranking.getByTestId('simcse-rank-0').getAttribute('data-index');
      assert.ok(['0', '1'].includes(top), `the guitarist sentences rank first, got #${top}`);

      const sts = page.locator('[data-testid="simcse-sts-score"][data-state="done"]');
      await sts.waitFor({ timeout: 5 * SLOW });
      mark('sts');
      const rho = Number(await sts.getAttribute('data-value'));
      assert.ok(rho > 0.3 && rho <= 1, `MiniLM's STS Spearman ${rho}`);
      assert.equal(
        await page.locator('[data-testid="simcse-sts-table"] tr[data-label="MiniLM"] td').nth(1).innerText(),
        webgpu ? '8' : '345',
      );
      const plot = page.getByTestId('simcse-align-uniform-plot');
      assert.equal(await plot.getAttribute('data-references'), '1');

      // Dropout makes two views of one sentence differ, a little.
      await page.getByTestId('simcse-two-views-run').click();
      const views = page.locator('[data-testid="simcse-two-views"][data-state="done"]');
      await views.waitFor({ timeout: 2 * SLOW });
      mark('two views');
      const twoViews = Number(await views.getAttribute('data-value'));
      assert.ok(twoViews < 0.99999 && twoViews > 0.5, `cosine of two dropout views ${twoViews}`);

      // Ten unsupervised steps: ten finite loss points, the trajectory grows.
      await page.getByTestId('simcse-train-unsup').click(STARTS_WORK);
      const step = page.getByTestId('simcse-step');
      await step.and(page.locator('[data-state="done"]')).waitFor({ timeout: 10 * SLOW });
      assert.equal(await step.getAttribute('data-value'), '10');
      mark('10 steps');
      // On WebGPU the steps run in the app's training worker
      // (runtime/simcse_worker.rs), on the CPU on the page's thread.
      assert.equal(await step.getAttribute('data-thread'), webgpu ? 'worker' : 'page');
      assert.equal(await step.getAttribute('data-workers-started'), webgpu ? '1' : '0');
      // The trained encoder becomes the page's (from the worker: the layers
      // that learned, spliced into the page's copy of MiniLM).
      await page
        .locator('[data-testid="simcse-encoder-status"][data-encoder="MiniLM + SimCSE 10"]')
        .waitFor({ timeout: 2 * SLOW });
      mark('published');
      const losses = await page
        .locator('[data-testid="simcse-loss-plot"] .loss-point')
        .evaluateAll((els) => els.map((e) => Number(e.dataset.loss)));
      assert.equal(losses.length, 10);
      assert.ok(losses.every(Number.isFinite), `finite losses: ${losses}`);
      const points = Number(await plot.getAttribute('data-points'));
      assert.ok(points >= 2, `trajectory points: ${points}`);
      // The trained encoder is scored too, and the heatmap follows it (on
      // the CPU: software WebGPU would need minutes more for the same code).
      if (!webgpu) {
        await page.locator('[data-testid="simcse-sts-table"] tr[data-label="MiniLM + SimCSE 10"]').waitFor({ timeout: 4 * SLOW });
        assert.equal(await plot.getAttribute('data-references'), '2');
        await heatmapDone(page, lines.length);
        mark('re-scored');
      } else {
        // Reset and train again: a new model from the encoder the worker
        // kept (no second worker, no second copy of the files).
        await page.getByTestId('simcse-reset').click();
        await page.locator('[data-testid="simcse-encoder-status"][data-encoder="MiniLM"]').waitFor();
        await page.getByTestId('simcse-steps').fill('2');
        await page.getByTestId('simcse-steps').dispatchEvent('change');
        await page.getByTestId('simcse-train-unsup').click(STARTS_WORK);
        await step.and(page.locator('[data-state="done"][data-value="2"]')).waitFor({ timeout: 4 * SLOW });
        assert.equal(await step.getAttribute('data-thread'), 'worker');
        assert.equal(await step.getAttribute('data-workers-started'), '1', 'the second run reused the worker');
        const again = await page
          .locator('[data-testid="simcse-loss-plot"] .loss-point')
          .evaluateAll((els) => els.map((e) => Number(e.dataset.loss)));
        assert.equal(again.length, 2, 'the loss history restarted at Reset');
        assert.ok(again.every(Number.isFinite), `finite losses: ${again}`);
        mark('reset, 2 more steps');
      }
      assert.deepEqual(errors, []);
    });

    if (!webgpu) {
      test('supervised steps on the raw encoder; bad input gets a clear message', async () => {
        const { page, errors } = await open(env, `/simcse?lang=en&backend=${backend}&enc=raw-cls&n=4&steps=3`);
        await page.locator('[data-testid="simcse-encoder-status"][data-state="done"]').waitFor();
        assert.match(await page.getByTestId('simcse-encoder-status').getAttribute('data-encoder'), /raw \[CLS\]/);
        const area = page.getByTestId('simcse-sentences');
        // Empty lines are skipped and said; a 5,000-character sentence is cut; non-Latin text works.
        const long = 'word '.repeat(1000).trim();
        await area.fill(`First sentence.\n\n\n${long}\n日本語の文です。 Ḁ ☃`);
        await heatmapDone(page, 3);
        const notices = (await page.getByTestId('simcse-notice').allInnerTexts()).join(' | ');
        assert.match(notices, /2 empty lines skipped/);
        assert.match(notices, /#1 was cut to the model's token limit; it had 1002 tokens/);
        // One sentence: nothing to compare with, said.
        await area.fill('Only this one.');
        await heatmapDone(page, 1);
        assert.match((await page.getByTestId('simcse-notice').allInnerTexts()).join(' '), /nothing to compare/);
        // ...and training on it alone has no negatives: refused with the reason.
        await page.getByTestId('simcse-train-on-mine').check();
        await page.getByTestId('simcse-train-unsup').click();
        assert.match(await page.getByTestId('simcse-error').innerText(), /at least 2 sentences/);
        await page.getByTestId('simcse-train-on-mine').uncheck();
        // No sentence at all.
        await area.fill('  \n ');
        await page.getByTestId('simcse-embed-error').waitFor();
        assert.match(await page.getByTestId('simcse-embed-error').innerText(), /at least one sentence/);
        // Add and remove through the controls.
        await page.getByTestId('simcse-new-sentence').fill('A dog runs in the park.');
        await page.getByTestId('simcse-add').click();
        await page.getByTestId('simcse-new-sentence').fill('A puppy plays outside.');
        await page.getByTestId('simcse-new-sentence').press('Enter');
        assert.equal(await area.inputValue(), 'A dog runs in the park.\nA puppy plays outside.');
        await heatmapDone(page, 2);
        await page.getByTestId('simcse-remove-0').click();
        assert.equal(await area.inputValue(), 'A puppy plays outside.');

        // Supervised SimCSE: three steps with contradictions as hard negatives.
        await page.getByTestId('simcse-train-sup').click(STARTS_WORK);
        const step = page.getByTestId('simcse-step');
        await step.and(page.locator('[data-state="done"]')).waitFor({ timeout: 8 * SLOW });
        assert.equal(await step.getAttribute('data-value'), '3');
        const losses = await page
          .locator('[data-testid="simcse-loss-plot"] .loss-point')
          .evaluateAll((els) => els.map((e) => Number(e.dataset.loss)));
        assert.equal(losses.length, 3);
        assert.ok(losses.every((l) => Number.isFinite(l) && l > 0), `finite losses: ${losses}`);
        // Reset returns to the encoder as loaded.
        await page.getByTestId('simcse-reset').click();
        assert.equal(await page.getByTestId('simcse-step').getAttribute('data-value'), '0');
        assert.deepEqual(errors, []);
      });

      test('500 sentences embed and the page stays responsive', async () => {
        const { page, errors } = await open(env, `/simcse?lang=en&backend=${backend}`);
        await page.locator('[data-testid="simcse-encoder-status"][data-state="done"]').waitFor();
        const many = Array.from({ length: 500 }, (_, i) => `Sentence number ${i} is about topic ${i % 7}.`).join('\n');
        await page.getByTestId('simcse-sentences').fill(many);
        await page.locator('[data-testid="simcse-heatmap-panel"][data-state="running"]').waitFor();
        // Input is handled while it embeds: the language switch answers.
        await page.getByTestId('lang-switch').click();
        await page.waitForFunction(() => document.documentElement.lang === 'zh-CN');
        await heatmapDone(page, 500);
        // Too many cells for elements: the canvas alone, hover still reads a value.
        assert.equal(await page.getByTestId('simcse-cell-0-1').count(), 0);
        assert.deepEqual(errors, []);
      });
    }
  });
}
