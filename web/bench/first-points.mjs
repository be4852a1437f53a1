// Benchmark (prints figures, asserts nothing): what the warm-up does to the first
// timed points of a sweep. Each run is a fresh Chromium (nothing tiered up yet),
// with the page's warm-up skipped (?warmup=0) or as the page does it:
//   KV cache, with cache: tok/s at 10 (the first point) and at 50 tokens;
//   checkpointing, policy none: step time at 4 (the first point) and 8 layers.
// Without a warm-up the first point runs on V8's baseline code and comes out
// slower than the next. Read from the section's kept results (ui/kept.js).
//
//   npm run build && node bench/first-points.mjs [rounds]   (default 2)
import { openPage, runSection } from '../e2e/helpers.mjs';

const rounds = Number(process.argv[2] ?? 2);

async function firstPoints(sectionId, values, warmup, pick) {
  const opened = await openPage({ coreTimeout: 60_000, query: warmup ? {} : { warmup: '0' } });
  try {
    const section = await runSection(opened.page, sectionId, values, 600_000);
    if ((await section.getAttribute('data-state')) !== 'done')
      throw new Error(await section.locator('[role=alert]').textContent());
    const kept = await opened.page.evaluate((id) => JSON.parse(localStorage.getItem(`memlab:results:${id}`)), sectionId);
    return pick(kept.results);
  } finally {
    await opened.close();
  }
}

const kv = (warmup) => firstPoints('kv-cache',
  { tokens: '10, 50', layers: 4, dModel: 128, heads: 4, kvHeads: 4, noCache: false, trained: false }, warmup,
  (results) => [10, 50].map((n) => results.find((r) => r.kind === 'run' && r.tokens === n).figures.tokensPerSecond));
const checkpoint = (warmup) => firstPoints('checkpointing',
  { layers: '4, 8', policies: 'none', trainSteps: 0 }, warmup,
  (results) => [4, 8].map((n) => results.find((r) => r.kind === 'policy' && r.layers === n).figures.stepMs));

const f = (x, digits = 0) => x.toFixed(digits).padStart(9);
console.log('KV cache with cache, tok/s          10 tokens  50 tokens   10/50');
for (let i = 0; i < rounds; i++)
  for (const warmup of [false, true]) {
    const [a, b] = await kv(warmup);
    console.log(`  ${warmup ? 'with warm-up   ' : 'no warm-up     '} round ${i + 1}       ${f(a)}  ${f(b)}  ${f(a / b, 2)}`);
  }
console.log('checkpointing none, step ms         4 layers   8 layers    8/4 (expect ~2)');
for (let i = 0; i < rounds; i++)
  for (const warmup of [false, true]) {
    const [a, b] = await checkpoint(warmup);
    console.log(`  ${warmup ? 'with warm-up   ' : 'no warm-up     '} round ${i + 1}       ${f(a, 2)}  ${f(b, 2)}  ${f(b / a, 2)}`);
  }
