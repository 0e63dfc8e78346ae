// End-to-end tests of the app shell in headless Chromium, run twice: with
// WebGPU (SwiftShader's software adapter) and with WebGPU absent.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, open, settledBackend, SLOW } from './browser.mjs';

const DEMOS = ['bert', 'igpt', 'simclr', 'simcse'];

/** Empties the browser's asset cache (the Cache API buckets the loader uses). */
async function clearAssetCache(page) {
  await page.evaluate(async () => {
    for (const key of await caches.keys()) await caches.delete(key);
  });
}

for (const webgpu of [true, false]) {
  describe(webgpu ? 'with WebGPU (SwiftShader)' : 'without WebGPU', { timeout: 10 * SLOW }, () => {
    let env;
    before(async () => {
      env = await launch({ webgpu });
    });
    after(async () => {
      await env?.close();
    });

    test('home page shows the 2x2 map with four cards and the inspired-by links', async () => {
      const { page, errors } = await open(env, '/');
      await page.getByTestId('home-grid').waitFor();
      for (const demo of DEMOS) {
        await page.getByTestId(`nav-${demo}`).waitFor();
        assert.ok((await page.getByTestId(`card-${demo}`).innerText()).length > 100, `${demo} card explains itself`);
      }
      assert.equal(await page.getByTestId('inspired-igpt-bert').getAttribute('href'), '/bert');
      assert.equal(await page.getByTestId('inspired-simcse-simclr').getAttribute('href'), '/simclr');
      // The grid's cells: generative row holds iGPT and BERT, discriminative SimCLR and SimCSE.
      const order = await page.locator('[data-testid^="card-"]').evaluateAll((els) => els.map((e) => e.dataset.testid));
      assert.deepEqual(order, ['card-igpt', 'card-bert', 'card-simclr', 'card-simcse']);
      assert.deepEqual(errors, []);
    });

    test('each card routes to its demo URL, and deep links load directly', async () => {
      const { page, errors } = await open(env, '/');
      for (const demo of DEMOS) {
        await page.getByTestId(`nav-${demo}`).click();
        await page.getByTestId(`demo-${demo}`).waitFor();
        assert.equal(new URL(page.url()).pathname, `/${demo}`);
        await page.goBack();
        await page.getByTestId('home-grid').waitFor();
      }
      for (const demo of DEMOS) {
        await page.goto(`${env.server.url}/${demo}`);
        await page.getByTestId(`demo-${demo}`).waitFor();
        // Every demo is built: no placeholder is left.
        assert.equal(await page.getByTestId('coming-soon').count(), 0);
      }
      // Keyboard: a card's link is a real link, Enter follows it.
      await page.goto(`${env.server.url}/`);
      await page.getByTestId('nav-simcse').focus();
      await page.keyboard.press('Enter');
      await page.getByTestId('demo-simcse').waitFor();
      await page.goto(`${env.server.url}/no-such-page`);
      await page.getByTestId('not-found').waitFor();
      assert.deepEqual(errors, []);
    });

    test('the language switch translates the UI and is remembered', async () => {
      const { page, errors } = await open(env, '/?lang=en');
      const intro = page.locator('.intro');
      await intro.waitFor();
      assert.match(await intro.innerText(), /unlabelled data/);
      await page.getByTestId('lang-switch').click();
      await page.waitForFunction(() => document.documentElement.lang === 'zh-CN');
      assert.match(await intro.innerText(), /无标注数据/);
      assert.equal(await page.getByTestId('lang-switch').innerText(), 'English');
      assert.match(page.url(), /lang=zh-CN/);
      // Navigation keeps the language; a fresh visit without ?lang remembers it.
      // Onto a demo page, whose explanation is in Chinese too.
      await page.getByTestId('nav-simcse').click();
      await page.getByTestId('demo-simcse').waitFor();
      assert.match(await page.locator('.intro').innerText(), /句子编码器/);
      assert.equal(await page.evaluate(() => document.documentElement.lang), 'zh-CN');
      await page.goto(`${env.server.url}/`);
      await page.waitForFunction(() => document.documentElement.lang === 'zh-CN');
      await page.getByTestId('lang-switch').click();
      await page.waitForFunction(() => document.documentElement.lang === 'en');
      assert.deepEqual(errors, []);
    });

    if (webgpu) {
      test('forced WebGPU runs on the SwiftShader adapter and says so', async () => {
        const { page, errors } = await open(env, '/?backend=webgpu');
        assert.equal(await settledBackend(page), 'webgpu');
        assert.match(await page.getByTestId('backend-indicator').innerText(), /^WebGPU · \S/);
        assert.match(await page.getByTestId('backend-note').innerText(), /software adapter/);
        assert.match(await page.getByTestId('backend-selftest').innerText(), /\d+(\.\d)? ms/);
        assert.deepEqual(errors, []);
      });

      test('by default a software-only adapter yields to the faster CPU backend', async () => {
        const { page, errors } = await open(env, '/');
        assert.equal(await settledBackend(page), 'cpu');
        assert.equal(await page.getByTestId('backend-indicator').innerText(), 'CPU (WebAssembly)');
        assert.match(await page.getByTestId('backend-note').innerText(), /software one, which is slower than the CPU/);
        // The visitor can still choose WebGPU from the header.
        await page.getByTestId('backend-switch-webgpu').click();
        assert.equal(await settledBackend(page), 'webgpu');
        assert.match(page.url(), /backend=webgpu/);
        assert.deepEqual(errors, []);
      });

      test('the header switches from WebGPU to the CPU', async () => {
        const { page, errors } = await open(env, '/simclr?backend=webgpu');
        assert.equal(await settledBackend(page), 'webgpu');
        await page.getByTestId('backend-switch-cpu').click();
        assert.equal(await settledBackend(page), 'cpu');
        assert.match(await page.getByTestId('backend-note').innerText(), /CPU as requested/);
        assert.match(page.url(), /backend=cpu/);
        await page.getByTestId('demo-simclr').waitFor();
        assert.deepEqual(errors, []);
      });

      test('a lost GPU device falls back to the CPU without losing the page', async () => {
        const { page, errors } = await open(env, '/igpt?backend=webgpu&debug=1&lang=en');
        assert.equal(await settledBackend(page), 'webgpu');
        await page.getByTestId('lang-switch').click();
        await page.waitForFunction(() => document.documentElement.lang === 'zh-CN');
        await page.evaluate(() => window.pretextDebug.loseGpuDevice());
        await page.getByTestId('backend-indicator').and(page.locator('[data-backend="cpu"][data-state="done"]')).waitFor();
        assert.match(await page.getByTestId('backend-note').innerText(), /GPU 设备已丢失/);
        // Same page, same language: nothing the visitor did was lost.
        await page.getByTestId('demo-igpt').waitFor();
        assert.equal(await page.evaluate(() => document.documentElement.lang), 'zh-CN');
        assert.deepEqual(errors, []);
      });
    } else {
      test('without WebGPU the app runs on the CPU and says why in one calm line', async () => {
        for (const query of ['', '?backend=webgpu']) {
          const { page, errors } = await open(env, `/${query}`);
          assert.equal(await settledBackend(page), 'cpu');
          assert.equal(await page.getByTestId('backend-indicator').innerText(), 'CPU (WebAssembly)');
          assert.match(await page.getByTestId('backend-note').innerText(), /no WebGPU|No WebGPU adapter/);
          assert.ok(await page.getByTestId('backend-switch-webgpu').isDisabled());
          assert.match(await page.getByTestId('backend-selftest').innerText(), /ms/);
          assert.deepEqual(errors, []);
        }
      });
    }

    test('the asset loader shows progress, rejects a corrupted file with a retry, then serves from cache', async () => {
      const id = 'minilm/tokenizer.json';
      const { page, errors } = await open(env, '/offline');
      // Start cold: earlier tests opened /bert, which caches its model files.
      await clearAssetCache(page);
      const row = page.locator(`[data-asset-id="${id}"]`);
      await row.waitFor();
      assert.equal(await row.getByTestId('load-progress').getAttribute('data-state'), 'idle');

      // Serve a damaged copy: one byte flipped, same length.
      await page.route(`**/assets/${id}`, async (route) => {
        const response = await route.fetch();
        const body = Buffer.from(await response.body());
        body[100] ^= 0x20;
        await route.fulfill({ response, body });
      });
      await row.getByTestId('asset-download').click();
      await row.getByTestId('load-error').waitFor();
      assert.equal(await row.getByTestId('load-progress').getAttribute('data-state'), 'error');
      assert.match(await row.getByTestId('load-error').innerText(), /checksum/);
      // The browser writes a download into the cache while the page checks
      // it; a copy that fails its check is not kept.
      const cachedCopies = () =>
        page.evaluate(async (id) => {
          const cache = await caches.open('pretext-assets-v1');
          return (await cache.keys()).filter((r) => r.url.endsWith(`/assets/${id}`)).length;
        }, id);
      assert.equal(await cachedCopies(), 0);

      // The page survives: navigation still works and comes back.
      await page.getByTestId('nav-home').click();
      await page.getByTestId('home-grid').waitFor();
      await page.getByTestId('nav-offline').click();
      await row.waitFor();

      // Retry with the real file: verified and ready, bytes of total shown.
      await page.unroute(`**/assets/${id}`);
      await row.getByTestId('asset-download').click();
      await row.getByTestId('load-progress').and(page.locator('[data-state="done"]')).waitFor();
      assert.match(await row.getByTestId('load-progress').innerText(), /466\.2 kB/);
      assert.equal(await row.getByTestId('load-progress').getAttribute('data-source'), 'network');
      assert.equal(await cachedCopies(), 1);

      // A second visit is served from the Cache API: no request for the asset.
      const second = await open(env, '/offline');
      const requests = [];
      second.page.on('request', (r) => {
        if (new URL(r.url()).pathname.startsWith('/assets/')) requests.push(r.url());
      });
      const row2 = second.page.locator(`[data-asset-id="${id}"]`);
      await row2.getByTestId('asset-download').click();
      await row2.getByTestId('load-progress').and(second.page.locator('[data-state="done"]')).waitFor();
      assert.equal(await row2.getByTestId('load-progress').getAttribute('data-source'), 'cache');
      assert.deepEqual(requests, []);
      assert.deepEqual(errors, []);
      assert.deepEqual(second.errors, []);
    });

    test('the retry button recovers from a failed download', async () => {
      const id = 'minilm/config.json';
      const { page, errors } = await open(env, '/offline');
      await clearAssetCache(page);
      const row = page.locator(`[data-asset-id="${id}"]`);
      await page.route(`**/assets/${id}`, (route) => route.fulfill({ status: 503, body: 'busy' }));
      await row.getByTestId('asset-download').click();
      await row.getByTestId('load-error').waitFor();
      assert.match(await row.getByTestId('load-error').innerText(), /HTTP 503/);
      await page.unroute(`**/assets/${id}`);
      await row.getByTestId('load-retry').click();
      await row.getByTestId('load-progress').and(page.locator('[data-state="done"]')).waitFor();
      assert.equal(await row.getByTestId('load-error').count(), 0);
      // A 503 is logged by the browser itself as a failed resource load; that
      // line is the expected one, anything else is a failure.
      assert.deepEqual(errors.filter((e) => !/503/.test(e)), []);
    });

    if (!webgpu) {
      test('"Download everything" fetches and verifies every asset, the 90 MB weights included', async () => {
        const { page, errors } = await open(env, '/offline');
        await page.getByTestId('assets-download-all').click();
        const rows = page.getByTestId('asset-row');
        const n = await rows.count();
        assert.ok(n >= 4);
        for (let i = 0; i < n; i++) {
          await rows.nth(i).getByTestId('load-progress').and(page.locator('[data-state="done"]')).waitFor();
        }
        const weights = page.locator('[data-asset-id="minilm/model.safetensors"]');
        assert.match(await weights.getByTestId('load-progress').innerText(), /90\.9 MB/);
        assert.deepEqual(errors, []);
      });
    }
  });
}
