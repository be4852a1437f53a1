// Benchmark (prints figures, asserts nothing): Compile & Test of an exercise in
// Chromium, through the built page exactly as a learner uses it, from a fresh
// browser profile served from localhost.
//
//   npm run build && npm run bench:exercises -- [slug] [warm runs]   (default 02-flash-attention 5)
//
//   first          the first Compile & Test: the toolchain's ~120 MB fetched and
//                  compiled by the browser, then compile, link, run
//   warm           later runs, each after an edit (so it recompiles): median
//   after reload   the first run after reloading the page: the toolchain from
//                  Cache Storage and the browser's compiled-code cache
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium } from '../e2e/chromium.mjs';
import { serveStatic } from '../e2e/static-server.mjs';
import { exercisePage } from '../e2e/exercise-page.mjs';

const [slug = '02-flash-attention', warmRuns = 5] = process.argv.slice(2);
const here = path.dirname(fileURLToPath(import.meta.url));
const solution = readFileSync(path.join(here, '..', '..', 'exercises', slug, 'solution.cpp'), 'utf8');
const server = await serveStatic(path.join(here, '..', 'dist'), '/');
const browser = await launchChromium();
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
try {
  const { page } = browser;
  const ui = exercisePage(page);
  let edit = 0;
  const run = async () => {
    await ui.type(`${solution}\n// edit ${edit++}\n`);
    const r = await ui.compileAndTest(300_000);
    if (r.outcome !== 'passed') throw new Error(`${slug}: the solution did not pass (${r.outcome})`);
    return r;
  };
  await page.goto(server.url);
  await ui.ready();
  await ui.open(slug);
  const first = await run();
  const warm = [];
  for (let i = 0; i < Number(warmRuns); i++) warm.push(await run());
  await page.reload();
  await ui.ready();
  await ui.open(slug);
  const reloaded = await run();
  const ua = await page.evaluate(() => navigator.userAgent.match(/Chrom\w+\/[\d.]+/)?.[0]);
  console.log(`Compile & Test of ${slug} (its reference solution) in headless ${ua}, site on localhost`);
  console.log(`  first (fresh profile) ${first.seconds.toFixed(1)} s   ${first.timing}`);
  console.log(`  warm, median of ${warm.length}    ${median(warm.map((r) => r.seconds)).toFixed(1)} s   (${warm.map((r) => r.seconds.toFixed(1)).join(', ')} s)`);
  console.log(`  after a reload        ${reloaded.seconds.toFixed(1)} s   ${reloaded.timing}`);
} finally {
  await browser.close();
  await server.close();
}
