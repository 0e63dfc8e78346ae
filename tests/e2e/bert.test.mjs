// End-to-end tests of the BERT demo (/bert) in headless Chromium, on WebGPU
// (SwiftShader) and on the CPU fallback: fill-mask with click-to-mask, the
// token strip and its embeddings, bad input, the MLM rule counter, NSP, the
// attention view, the tiny BERT learning live, and the model picker (the
// Hugging Face path served offline from a local copy in the Hub's layout).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, open, settledBackend, SLOW } from './browser.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const TINY = path.join(ROOT, 'tests/golden/bert/tiny-a');
const TINY_ID = 'google/bert_uncased_L-2_H-128_A-2';

// tiny-a (a random 2-layer BERT from the golden fixtures) has 97 word
// pieces; this vocab.txt covers the test sentence and fits inside it.
const TINY_VOCAB = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', '.', 'the', 'capital', 'of', 'france', 'is', 'paris'];

/** Serves a copy of a checkpoint in the Hub's layout under `prefix`. */
async function serveCheckpoint(page, prefix, files) {
  await page.route(`${prefix}**`, async (route) => {
    const name = new URL(route.request().url()).pathname.split('/').pop();
    const body = files[name];
    const headers = { 'access-control-allow-origin': '*' };
    if (body === undefined) {
      await route.fulfill({ status: 404, headers, body: 'Entry not found' });
    } else {
      await route.fulfill({ status: 200, headers, body });
    }
  });
}

// Like google/bert_uncased_L-*: vocab.txt and pytorch_model.bin only (no
// tokenizer.json, no model.safetensors), or the same weights as safetensors.
const tinyFiles = (weights) => ({
  'config.json': fs.readFileSync(path.join(TINY, 'config.json')),
  [weights]: fs.readFileSync(path.join(TINY, weights)),
  'vocab.txt': TINY_VOCAB.join('\n') + '\n',
});

async function modelReady(page) {
  await page.getByTestId('bert-model-status').and(page.locator('[data-state="done"]')).waitFor({ timeout: 3 * SLOW });
}

async function predictionsFor(page, text) {
  const predictions = page.getByTestId('bert-predictions');
  await page.waitForFunction(
    (t) => {
      const el = document.querySelector('[data-testid="bert-predictions"]');
      return el && el.dataset.state === 'done' && el.dataset.text === t;
    },
    text,
    { timeout: 2 * SLOW },
  );
  return predictions;
}

async function topFive(page, mask) {
  const rows = [];
  for (let rank = 0; rank < 5; rank++) {
    const el = page.getByTestId(`bert-prediction-${mask}-${rank}`);
    rows.push({ token: (await el.innerText()).trim(), prob: Number(await el.getAttribute('data-prob')) });
  }
  return rows;
}

for (const webgpu of [true, false]) {
  const backend = webgpu ? 'webgpu' : 'cpu';
  describe(`BERT ${webgpu ? 'on WebGPU (SwiftShader)' : 'on the CPU fallback'}`, { timeout: 20 * SLOW }, () => {
    let env;
    before(async () => {
      env = await launch({ webgpu });
    });
    after(async () => {
      await env?.close();
    });

    test('type a sentence, click "Paris": 5 predictions whose probabilities sum to at most 1', async () => {
      const { page, errors } = await open(env, `/bert?lang=en&backend=${backend}`);
      assert.equal(await settledBackend(page), backend);
      await modelReady(page);
      assert.equal(await page.getByTestId('bert-model-status').getAttribute('data-model'), 'bundled');
      assert.match(await page.getByTestId('bert-model-note').innerText(), /trained[\s\S]*held-out|never saw/);

      const input = page.getByTestId('bert-input');
      await input.fill('The capital of France is Paris.');
      await page.getByTestId('bert-notice').filter({ hasText: 'No [MASK]' }).waitFor();
      await page.getByTestId(/^bert-token-\d+$/).filter({ hasText: /^paris$/ }).click();
      assert.equal(await input.inputValue(), 'The capital of France is [MASK].');
      await predictionsFor(page, 'The capital of France is [MASK].');
      const top = await topFive(page, 0);
      const sum = top.reduce((s, r) => s + r.prob, 0);
      assert.ok(sum <= 1 + 1e-4 && sum > 0, `probabilities sum to ${sum}`);
      for (let i = 0; i < 5; i++) {
        assert.ok(top[i].token.length > 0);
        assert.ok(top[i].prob > 0 && (i === 0 || top[i].prob <= top[i - 1].prob), JSON.stringify(top));
      }
      assert.equal(await page.getByTestId('bert-prediction-0-5').count(), 0);
      assert.equal(new URL(page.url()).searchParams.get('text'), 'The capital of France is [MASK].');
      assert.match(await page.getByTestId('bert-latency').innerText(), /\d+ ms/);

      // The token strip: [CLS] first, segment ids, and a click on the [MASK] puts Paris back.
      assert.equal(await page.getByTestId('bert-token-0').innerText(), '[CLS]');
      assert.equal(await page.getByTestId('bert-token-1').getAttribute('data-segment'), '0');
      await page.getByTestId(/^bert-token-\d+$/).filter({ hasText: /^\[MASK\]$/ }).click();
      assert.equal(await input.inputValue(), 'The capital of France is Paris.');

      // A token's three input embeddings.
      await page.getByTestId('bert-token-parts-2').click();
      const parts = page.getByTestId('bert-embedding');
      await parts.and(page.locator('[data-state="done"]')).waitFor();
      assert.equal(await parts.locator('.parts-row').count(), 3);
      assert.match(await parts.innerText(), /capital/);
      assert.deepEqual(errors, []);
    });

    // burn's matmul autotune runs on WebGPU only. A candidate kernel the
    // browser rejects does no work, so it could look fastest and be chosen:
    // the app makes every candidate valid (runtime/webgpu.rs), and this
    // checks the model's answer against the CPU's and that the browser
    // rejected nothing, while tuning or after.
    if (webgpu) test('tuned WebGPU kernels: the same top 5 as the CPU, none rejected', async () => {
      const a = 'The man went to the [MASK] to buy milk.';
      const b = 'Paris is the [MASK] of France.';
      const cpu = await open(env, `/bert?lang=en&backend=cpu&text=${encodeURIComponent(a)}`);
      assert.equal(await settledBackend(cpu.page), 'cpu');
      await modelReady(cpu.page);
      await predictionsFor(cpu.page, a);
      const expected = await topFive(cpu.page, 0);
      await cpu.page.close();

      const { page, errors } = await open(env, `/bert?lang=en&backend=webgpu&debug=1&text=${encodeURIComponent(a)}`);
      assert.equal(await settledBackend(page), 'webgpu');
      await modelReady(page);
      await predictionsFor(page, a);
      const first = await topFive(page, 0);
      // Another length (other sizes to tune), then the first again (tuned).
      for (const text of [b, a]) {
        await page.getByTestId('bert-input').fill(text);
        await predictionsFor(page, text);
      }
      const tuned = await topFive(page, 0);
      for (const got of [first, tuned]) {
        assert.deepEqual(got.map((r) => r.token), expected.map((r) => r.token));
        for (let i = 0; i < 5; i++) {
          assert.ok(Math.abs(got[i].prob - expected[i].prob) < 1e-3, `${JSON.stringify(got)} vs ${JSON.stringify(expected)}`);
        }
      }
      assert.equal(await page.evaluate(() => window.pretextDebug.gpuErrors()), 0, 'the browser rejected a WebGPU command');
      assert.deepEqual(errors, []);
    });

    test('bad input: empty, 20 masks, emoji, over 512 tokens — messages, never a crash', async () => {
      const { page, errors } = await open(env, `/bert?lang=en&backend=${backend}&text=${encodeURIComponent('Hello [MASK].')}`);
      await settledBackend(page);
      await modelReady(page);
      await predictionsFor(page, 'Hello [MASK].');
      const input = page.getByTestId('bert-input');

      await input.fill('');
      await page.getByTestId('bert-notice').filter({ hasText: 'Type a sentence' }).waitFor();

      const twenty = Array.from({ length: 20 }, (_, i) => `word${i} [MASK]`).join(' ') + '.';
      await input.fill(twenty);
      await predictionsFor(page, twenty);
      assert.equal(await page.getByTestId('bert-predictions').getAttribute('data-masks'), '20');
      assert.equal(await page.getByTestId('bert-prediction-19-4').count(), 1);

      const emoji = 'I love 🍕 and ☕ with [MASK].';
      await input.fill(emoji);
      await predictionsFor(page, emoji);
      const tokens = await page.getByTestId(/^bert-token-\d+$/).allInnerTexts();
      assert.ok(tokens.includes('[UNK]'), tokens.join(' '));

      const long = 'the cat sat on the mat and '.repeat(90) + 'the [MASK] slept.';
      await input.fill(long);
      await page.getByTestId('bert-notice').filter({ hasText: 'at most 512' }).waitFor();
      assert.equal(await page.getByTestId('bert-tokens').getAttribute('data-count'), '512');
      assert.deepEqual(errors, []);
    });

    test('the MLM rule counter, NSP, attention maps and the tiny BERT learning live', async () => {
      const { page, errors } = await open(env, `/bert?lang=en&backend=${backend}`);
      await settledBackend(page);

      // The 80/10/10 rule needs only the tokenizer.
      const stats = page.getByTestId('bert-corrupt-stats');
      await page.getByTestId('bert-corrupt').click();
      assert.equal(await stats.getAttribute('data-draws'), '1');
      assert.equal(await page.getByTestId('bert-corrupt-example').locator('.bert-token').count(), 9);
      await page.getByTestId('bert-corrupt-many').click();
      assert.equal(await stats.getAttribute('data-draws'), '1001');
      const n = (k) => stats.getAttribute(k).then(Number);
      const selected = await n('data-selected');
      // 6 eligible tokens ([CLS], [SEP] and the typed [MASK] never are): round(15% of 6) = 1 per draw.
      assert.equal(await n('data-eligible'), 6 * 1001);
      assert.equal(selected, 1001);
      const share = (await n('data-masked')) / selected;
      assert.ok(Math.abs(share - 0.8) < 0.06, `[MASK] share ${share}`);
      assert.equal((await n('data-masked')) + (await n('data-random')) + (await n('data-unchanged')), selected);

      await modelReady(page);
      const nsp = page.getByTestId('bert-nsp-result');
      await nsp.and(page.locator('[data-state="done"]')).waitFor({ timeout: 2 * SLOW });
      assert.match(await nsp.getAttribute('data-isnext'), /^(true|false)$/);
      await page.getByTestId('bert-nsp-random').click();
      await nsp.and(page.locator('[data-state="done"]')).waitFor({ timeout: 2 * SLOW });
      const p = Number(await nsp.getAttribute('data-prob'));
      assert.ok(p >= 0 && p <= 1, `P(IsNext) = ${p}`);
      assert.match(await nsp.innerText(), /IsNext[\s\S]*NotNext/);

      const attention = page.getByTestId('bert-attention');
      await attention.locator('summary').click();
      await attention.and(page.locator('[data-state="done"]')).waitFor({ timeout: 2 * SLOW });
      assert.equal(await attention.getAttribute('data-layers'), '6');
      assert.equal(await attention.getAttribute('data-heads'), '12');
      assert.equal(await page.getByTestId('bert-attention-map').getAttribute('data-n'), '9');
      await page.getByTestId('bert-attention-layer').selectOption('5');
      await page.getByTestId('bert-attention-head').selectOption('11');

      const plot = page.getByTestId('bert-learn-plot');
      await page.getByTestId('bert-learn-start').click();
      // SwiftShader runs the tiny BERT's training steps slowly: fewer there.
      const want = webgpu ? 6 : 30;
      await page.waitForFunction(
        (k) => Number(document.querySelector('[data-testid="bert-learn-plot"]').dataset.points) >= k,
        want,
        { timeout: 4 * SLOW },
      );
      await page.getByTestId('bert-learn-start').click(); // pause
      await plot.and(page.locator('[data-state="done"]')).waitFor();
      assert.ok(Number(await page.getByTestId('bert-learn-predictions').getAttribute('data-step')) >= 5);
      assert.equal(await page.getByTestId('bert-learn-predictions').locator('.bar-row').count(), 5);
      assert.deepEqual(errors, []);
    });

    test('model picker: a Hub preset (pytorch_model.bin, served offline), URLs that 404 or are not BERT keep it, a URL loads', async () => {
      const { page, errors } = await open(env, `/bert?lang=en&backend=${backend}`);
      await serveCheckpoint(page, `https://huggingface.co/${TINY_ID}/resolve/main/`, tinyFiles('pytorch_model.bin'));
      await serveCheckpoint(page, 'http://models.test/tiny/', tinyFiles('model.safetensors'));
      await serveCheckpoint(page, 'http://models.test/gpt2/', { 'config.json': '{"model_type": "gpt2", "n_embd": 768}' });
      await serveCheckpoint(page, 'http://models.test/missing/', {});
      await settledBackend(page);
      await modelReady(page);

      await page.getByTestId('bert-model-picker').selectOption(`hub:${TINY_ID}`);
      await page.waitForFunction(
        (id) => document.querySelector('[data-testid="bert-model-status"]')?.dataset.model === `hub:${id}`,
        TINY_ID,
      );
      await modelReady(page);
      assert.equal(new URL(page.url()).searchParams.get('model'), `hub:${TINY_ID}`);
      await predictionsFor(page, 'The capital of France is [MASK].');
      assert.equal(await page.getByTestId('bert-prediction-0-4').count(), 1);

      for (const [url, message] of [
        ['http://models.test/missing/', /404/],
        ['http://models.test/gpt2/', /not BERT/],
      ]) {
        await page.getByTestId('bert-model-picker').selectOption('url');
        await page.getByTestId('bert-model-url').fill(url);
        await page.getByTestId('bert-model-load').click();
        await page.getByTestId('bert-model-status').and(page.locator('[data-state="error"]')).waitFor();
        assert.match(await page.getByTestId('bert-model-error').innerText(), message);
        assert.match(await page.getByTestId('bert-model-error').innerText(), /previous model/);
        assert.equal(await page.getByTestId('bert-model-status').getAttribute('data-model'), `hub:${TINY_ID}`);
      }
      // The kept model still answers.
      await page.getByTestId('bert-input').fill('Paris is the [MASK] of France.');
      await predictionsFor(page, 'Paris is the [MASK] of France.');
      // A URL in the same layout, with safetensors weights, loads.
      await page.getByTestId('bert-model-url').fill('http://models.test/tiny');
      await page.getByTestId('bert-model-load').click();
      await page.waitForFunction(
        () => document.querySelector('[data-testid="bert-model-status"]')?.dataset.model === 'http://models.test/tiny/',
      );
      await modelReady(page);
      await page.getByTestId('bert-input').fill('The [MASK] of France is Paris.');
      await predictionsFor(page, 'The [MASK] of France is Paris.');
      assert.equal(new URL(page.url()).searchParams.get('model'), 'http://models.test/tiny/');
      // Chromium logs each 404 this test serves on purpose (tokenizer.json of
      // the vocab.txt-only checkpoint, the missing folder); nothing else may appear.
      assert.deepEqual(errors.filter((e) => !/status of 404/.test(e)), []);
    });
  });
}
