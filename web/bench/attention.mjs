// Benchmark (prints figures, asserts nothing): flash vs naive attention in
// Chromium, through the built page exactly as a learner runs it.
//
//   npm run build && npm run bench -- [seqMin seqMax]      (default 512 4096)
//
// head_dim 64, heads 4, not causal, block 64, 3 repeats (medians after a warm-up).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium } from '../e2e/chromium.mjs';
import { serveStatic } from '../e2e/static-server.mjs';

const [seqMin = 512, seqMax = 4096] = process.argv.slice(2).map(Number);
const dist = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'dist');
const server = await serveStatic(dist, '/');
const browser = await launchChromium();
try {
  const { page } = browser;
  await page.goto(server.url);
  await page.waitForSelector('#core-status[data-state=ready]', { timeout: 30_000 });
  const section = page.locator('section#flash-vs-naive');
  const values = { seqMin, seqMax, headDim: 64, heads: 4, kvHeads: 4, block: 64, repeats: 3 };
  for (const [name, value] of Object.entries(values)) await section.locator(`[name=${name}]`).fill(String(value));
  await section.locator('[name=causal]').setChecked(false);
  await section.locator('button[data-action=run]').click();
  await page.waitForFunction(() => ['done', 'error'].includes(document.getElementById('flash-vs-naive').dataset.state),
    null, { timeout: 600_000 });
  const rows = await section.locator('[data-test=diff-table] tbody tr').evaluateAll((trs) =>
    trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent.trim())));
  const ua = await page.evaluate(() => navigator.userAgent.match(/Chrom\w+\/[\d.]+/)?.[0]);
  console.log(`flash vs naive attention in ${ua}: head_dim 64, heads 4, block 64, median of 3`);
  console.log(['seq', 'naive ms', 'flash ms', 'naive GFLOP/s', 'flash GFLOP/s', 'naive peak', 'flash peak', 'max abs diff']
    .map((h) => h.padStart(15)).join(""));
  for (const r of rows) console.log(r.map((c) => c.replace(/ok$/, '').padStart(15)).join(""));
} finally {
  await browser.close();
  await server.close();
}
