// End-to-end tests of the iGPT demo (/igpt) in headless Chromium, on WebGPU
// (SwiftShader) and on the CPU fallback.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, open, settledBackend, SLOW, STARTS_WORK } from './browser.mjs';

/** The palette indices a canvas carries (one base-36 digit per pixel). */
async function tokens(locator) {
  return locator.getAttribute('data-tokens');
}

// SwiftShader runs WebGPU on the CPU at ~1.5 s per generated pixel here (kernel
// launch overhead), so on WebGPU the runs mask only the last row (14 pixels).
const LAST_ROW = '0'.repeat(45) + 'cfff';
// Generous limits for those slow WebGPU runs (a wait, not a timing assertion).
const LONG = 5 * SLOW;
const LAST_ROW_MASK = '0'.repeat(182) + '1'.repeat(14);

for (const webgpu of [true, false]) {
  const backend = webgpu ? 'webgpu' : 'cpu';
  const small = webgpu ? `&mask=brush&brush=${LAST_ROW}` : '';
  describe(`iGPT ${webgpu ? 'on WebGPU (SwiftShader)' : 'on the CPU fallback'}`, { timeout: 30 * SLOW }, () => {
    let env;
    before(async () => {
      env = await launch({ webgpu });
    });
    after(async () => {
      await env?.close();
    });

    test('pick an image, mask the bottom half, complete: 4 samples, given pixels unchanged', async () => {
      const { page, errors } = await open(env, `/igpt?lang=en&backend=${backend}&both=0${small}`);
      assert.equal(await settledBackend(page), backend);
      await page.getByTestId('igpt-gallery').and(page.locator('[data-state="done"]')).waitFor();
      await page.getByTestId('igpt-gallery-3').click();
      await page.waitForFunction(() => new URL(location.href).searchParams.get('img') === '3');
      if (!webgpu) await page.getByTestId('igpt-mask-bottom').click();
      const quantized = page.getByTestId('igpt-quantized');
      const source = await tokens(quantized);
      const mask = await quantized.getAttribute('data-mask');
      assert.equal(source.length, 196);
      assert.equal(mask, webgpu ? LAST_ROW_MASK : '0'.repeat(98) + '1'.repeat(98));
      assert.equal(await page.getByTestId('igpt-sequence').getAttribute('data-length'), '196');

      await page.getByTestId('igpt-temperature').fill('0.8');
      await page.getByTestId('igpt-complete').click(STARTS_WORK);
      const samples = page.getByTestId('igpt-samples');
      await samples.and(page.locator('[data-state="running"]')).waitFor();
      await samples.and(page.locator('[data-state="done"]')).waitFor({ timeout: LONG });
      for (let k = 0; k < 4; k++) {
        const canvas = page.getByTestId(`igpt-sample-${k}`);
        assert.equal(await canvas.getAttribute('data-complete'), 'true');
        const got = await tokens(canvas);
        assert.equal(got.length, 196);
        for (let p = 0; p < 196; p++) {
          if (mask[p] === '0') assert.equal(got[p], source[p], `sample ${k}: given pixel ${p} changed`);
          else assert.match(got[p], /[0-7]/);
        }
      }
      assert.ok(Number((await page.getByTestId('igpt-ms-per-pixel').innerText()).match(/([\d.]+) ms/)[1]) > 0);
      // Hovering a generated pixel shows the distribution it was drawn from.
      await page.getByTestId('igpt-sample-0').scrollIntoViewIfNeeded();
      const box = await page.getByTestId('igpt-sample-0').boundingBox();
      await page.mouse.move(box.x + box.width / 2, box.y + box.height * (webgpu ? 0.97 : 0.9));
      assert.match(await page.getByTestId('igpt-distribution').innerText(), /distribution/);
      assert.equal(new URL(page.url()).searchParams.get('t'), '0.80');
      assert.deepEqual(errors, []);
    });

    test('the masked-pixel model fills beside the completion', async () => {
      const { page, errors } = await open(env, `/igpt?lang=en&backend=${backend}&img=1&seed=4${webgpu ? small : '&mask=right'}`);
      await settledBackend(page);
      await page.getByTestId('igpt-gallery').and(page.locator('[data-state="done"]')).waitFor();
      assert.equal(await page.getByTestId('igpt-masked-mode').isChecked(), true);
      const mask = await page.getByTestId('igpt-quantized').getAttribute('data-mask');
      assert.equal(mask.split('').filter((c) => c === '1').length, webgpu ? 14 : 98);
      await page.getByTestId('igpt-complete').click(STARTS_WORK);
      await page.getByTestId('igpt-samples').and(page.locator('[data-state="done"]')).waitFor({ timeout: LONG });
      const source = await tokens(page.getByTestId('igpt-quantized'));
      for (let k = 0; k < 4; k++) {
        const canvas = page.getByTestId(`igpt-masked-sample-${k}`);
        assert.equal(await canvas.getAttribute('data-complete'), 'true');
        const got = await tokens(canvas);
        for (let p = 0; p < 196; p++) if (mask[p] === '0') assert.equal(got[p], source[p]);
      }
      assert.deepEqual(errors, []);
    });

    test('draw, bad inputs and the linear probe', async () => {
      // The probe's forward passes crawl on SwiftShader: a smaller probe set there.
      const { page, errors } = await open(env, `/igpt?lang=en&backend=${backend}&both=0${webgpu ? '&probe=60' : ''}`);
      await settledBackend(page);
      await page.getByTestId('igpt-gallery').and(page.locator('[data-state="done"]')).waitFor();
      // Nothing masked: a clear message, no run.
      await page.getByTestId('igpt-mask-none').click();
      await page.getByTestId('igpt-complete').click();
      assert.match(await page.getByTestId('igpt-error').innerText(), /Nothing is masked/);
      // An empty canvas completes, and says so; drawing changes the image.
      await page.getByTestId('igpt-clear-canvas').click();
      if (webgpu) {
        const url = new URL(page.url());
        url.searchParams.set('mask', 'brush');
        url.searchParams.set('brush', LAST_ROW);
        await page.goto(url.toString());
      } else await page.getByTestId('igpt-mask-bottom').click();
      await page.getByTestId('igpt-gallery').and(page.locator('[data-state="done"]')).waitFor();
      await page.getByTestId('igpt-clear-canvas').click();
      await page.getByTestId('igpt-complete').click();
      assert.match(await page.getByTestId('igpt-note').innerText(), /canvas is empty/);
      await page.getByTestId('igpt-samples').and(page.locator('[data-state="done"]')).waitFor({ timeout: LONG });
      await page.getByTestId('igpt-canvas').scrollIntoViewIfNeeded();
      const canvas = await page.getByTestId('igpt-canvas').boundingBox();
      await page.mouse.move(canvas.x + canvas.width * 0.3, canvas.y + canvas.height * 0.3);
      await page.mouse.down();
      await page.mouse.move(canvas.x + canvas.width * 0.7, canvas.y + canvas.height * 0.4, { steps: 8 });
      await page.mouse.up();
      assert.match(await tokens(page.getByTestId('igpt-quantized')), /[1-7]/, 'the stroke shows in the quantized image');
      // A non-image upload: a clear error, the image is kept.
      await page.getByTestId('igpt-upload').setInputFiles({ name: 'notes.png', mimeType: 'image/png', buffer: Buffer.from('not a picture') });
      assert.match(await page.getByTestId('igpt-upload-error').innerText(), /notes\.png/);
      await page.getByTestId('igpt-probe-run').click();
      const probe = page.getByTestId('igpt-probe-accuracy');
      await probe.and(page.locator('[data-state="done"]')).waitFor({ timeout: 5 * SLOW });
      const accuracy = Number(await probe.getAttribute('data-value'));
      assert.ok(accuracy > 0.1 && accuracy <= 1, `probe accuracy ${accuracy} above chance`);
      assert.match(await probe.innerText(), /raw pixels/);
      assert.deepEqual(errors, []);
    });

    test('a mask over everything samples unconditionally; stop halts the run', async () => {
      // Without the KV cache each pixel recomputes its prefix: slow enough to stop mid-run.
      const all = 'f'.repeat(49);
      const { page, errors } = await open(env, `/igpt?lang=en&backend=${backend}&both=0&cache=0&mask=brush&brush=${all}`);
      await settledBackend(page);
      await page.getByTestId('igpt-gallery').and(page.locator('[data-state="done"]')).waitFor();
      assert.equal(await page.getByTestId('igpt-quantized').getAttribute('data-mask'), '1'.repeat(196));
      assert.equal(await page.getByTestId('igpt-kv-cache').isChecked(), false);
      await page.getByTestId('igpt-complete').click();
      assert.match(await page.getByTestId('igpt-note').innerText(), /unconditionally/);
      await page.waitForFunction(() => Number(document.querySelector('[data-testid="igpt-sequence"]')?.dataset.position) > 10);
      await page.getByTestId('igpt-stop').click();
      await page.getByTestId('igpt-samples').and(page.locator('[data-state="idle"]')).waitFor();
      const frozen = await tokens(page.getByTestId('igpt-sample-0'));
      await page.waitForTimeout(800);
      assert.equal(await tokens(page.getByTestId('igpt-sample-0')), frozen, 'no pixels after stop');
      assert.equal(await page.getByTestId('igpt-sample-0').getAttribute('data-complete'), 'false');
      assert.deepEqual(errors, []);
    });
  });
}
