// Benchmark (prints figures, asserts nothing): a training step of attention (forward
// + backward), naive vs flash, in Chromium through the built page.
//
//   npm run build && npm run bench:flash-backward -- [seqMin seqMax]   (default 1024 4096)
//
// head_dim 64, heads 4, not causal, block 64, 3 repeats (medians after a warm-up).
import { benchSection, printTable } from './page.mjs';

const [seqMin = 1024, seqMax = 4096] = process.argv.slice(2).map(Number);
const { rows, browserName } = await benchSection('flash-backward',
  { seqMin, seqMax, headDim: 64, heads: 4, kvHeads: 4, block: 64, repeats: 3, causal: false },
  '[data-test=backward-table]');
console.log(`attention forward + backward in ${browserName}: head_dim 64, heads 4, block 64, median of 3`);
printTable(['seq', 'naive ms', 'flash ms', 'naive GFLOP/s', 'flash GFLOP/s', 'naive peak', 'flash peak', 'rel. diff'], rows);
