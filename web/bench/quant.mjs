// Benchmark (prints figures, asserts nothing): y = W x per quantization format in
// Chromium, through the built page exactly as a learner runs it.
//
//   npm run build && npm run bench:quant -- [rows cols repeats]     (default 4096 4096 7)
//
// Gaussian W, one matvec per format against the fp32 one on the same W and x;
// medians after a warm-up.
import { openPage } from '../e2e/helpers.mjs';

const [rows = 4096, cols = 4096, repeats = 7] = process.argv.slice(2).map(Number);
const opened = await openPage({ coreTimeout: 60_000 });
try {
  const { page } = opened;
  const section = page.locator('section#quantization');
  // A small error sweep; the matvec at the size asked for.
  const values = { rows: 128, cols: 256, group: 128, mvRows: rows, mvCols: cols, repeats };
  for (const [name, value] of Object.entries(values)) await section.locator(`[name=${name}]`).fill(String(value));
  await section.locator('[name=matvec]').setChecked(true);
  const t0 = Date.now();
  await section.locator('button[data-action=run]').click();
  await page.waitForFunction(() => ['done', 'error'].includes(document.getElementById('quantization').dataset.state),
    null, { timeout: 900_000 });
  const table = await section.locator('[data-test=matvec-table] tbody tr').evaluateAll((trs) =>
    trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent.trim())));
  const ua = await page.evaluate(() => navigator.userAgent.match(/Chrom\w+\/[\d.]+/)?.[0]);
  console.log(`y = W x, W ${rows} x ${cols} Gaussian, in ${ua}: median of ${repeats} (run took ${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  console.log(['format', 'bits/w', 'weights', 'kernel ms', 'fp32 ms', 'speed-up', 'y error', 'kernel diff']
    .map((h) => h.padStart(14)).join(''));
  for (const r of table) console.log(r.map((c) => c.replace(/ok$/, '').padStart(14)).join(''));
} finally {
  await opened.close();
}
