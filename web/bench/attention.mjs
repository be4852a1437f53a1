// Benchmark (prints figures, asserts nothing): flash vs naive attention in
// Chromium, through the built page exactly as a learner runs it.
//
//   npm run build && npm run bench:attention -- [seqMin seqMax]   (default 512 4096)
//
// head_dim 64, heads 4, not causal, block 64, 3 repeats (medians after a warm-up).
import { benchSection, printTable } from './page.mjs';

const [seqMin = 512, seqMax = 4096] = process.argv.slice(2).map(Number);
const { rows, browserName } = await benchSection('flash-vs-naive',
  { seqMin, seqMax, headDim: 64, heads: 4, kvHeads: 4, block: 64, repeats: 3, causal: false },
  '[data-test=diff-table]');
console.log(`flash vs naive attention in ${browserName}: head_dim 64, heads 4, block 64, median of 3`);
printTable(['seq', 'naive ms', 'flash ms', 'naive GFLOP/s', 'flash GFLOP/s', 'naive peak', 'flash peak', 'max abs diff'], rows);
