// Startup figures of the built app (dist/) in headless Chromium, for notes and
// BENCHMARKS.md — a measurement, not a test. Usage: node scripts/measure_startup.mjs [runs]
// Reports, per mode, the median / min / max over fresh pages of: first
// contentful paint, the home map rendered by the app, and the compute backend
// settled (probe + init + self-test).
import { launch, open } from '../tests/e2e/browser.mjs';

const runs = Number(process.argv[2] ?? 5);
const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return `median ${s[Math.floor(s.length / 2)].toFixed(0)} ms (min ${s[0].toFixed(0)}, max ${s[s.length - 1].toFixed(0)})`;
};

for (const [label, webgpu, query] of [
  ['WebGPU flag on, auto (CPU preferred over SwiftShader)', true, ''],
  ['WebGPU forced (SwiftShader)', true, '?backend=webgpu'],
  ['no WebGPU', false, ''],
]) {
  const env = await launch({ webgpu });
  const fcp = [], map = [], backend = [];
  for (let i = 0; i < runs; i++) {
    const { page } = await open(env, `/${query}`);
    await page.getByTestId('home-grid').waitFor();
    await page.locator('[data-testid="backend-indicator"][data-state="done"]').waitFor();
    // First contentful paint, and the User Timing marks set by the app
    // (src/runtime/event_loop.rs::mark).
    const t = await page.evaluate(() => {
      const at = (name) => performance.getEntriesByName(name)[0]?.startTime ?? NaN;
      return { fcp: at('first-contentful-paint'), map: at('pretext:map'), backend: at('pretext:backend') };
    });
    fcp.push(t.fcp);
    map.push(t.map);
    backend.push(t.backend);
    await page.close();
  }
  console.log(`${label}:\n  first contentful paint: ${stats(fcp)}\n  home map rendered:      ${stats(map)}\n  backend settled:        ${stats(backend)}`);
  await env.close();
}
