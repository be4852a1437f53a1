// Benchmark (prints figures, asserts nothing): y = W x per quantization format in
// Chromium, through the built page exactly as a learner runs it.
//
//   npm run build && npm run bench:quant -- [rows cols repeats]     (default 4096 4096 7)
//
// Gaussian W, one matvec per format against the fp32 one on the same W and x;
// medians after a warm-up.
import { benchSection, printTable } from './page.mjs';

const [rows = 4096, cols = 4096, repeats = 7] = process.argv.slice(2).map(Number);
// A small error sweep; the matvec at the size asked for.
const { rows: table, browserName, seconds } = await benchSection('quantization',
  { rows: 128, cols: 256, group: 128, mvRows: rows, mvCols: cols, repeats, matvec: true },
  '[data-test=matvec-table]');
console.log(`y = W x, W ${rows} x ${cols} Gaussian, in ${browserName}: median of ${repeats} (run took ${seconds.toFixed(1)} s)`);
printTable(['format', 'bits/w', 'weights', 'kernel ms', 'fp32 ms', 'speed-up', 'y error', 'kernel diff'], table);
