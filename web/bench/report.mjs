// Benchmark (prints figures, asserts nothing): the headline figures in Chromium,
// through the built page exactly as a learner runs it — the browser side of
// `memlab-bench report`:
//   * flash attention at seq 4096 (head_dim 64, 4 heads, block 64): GFLOP/s;
//   * decoding the tiny GPT with a KV cache, 100 tokens: the cached step over the
//     floor of reading its weights once per token (the KV-cache table's ceiling
//     over its speedup);
//   * y = W x, W 4096 x 4096: Q8_0 and Q4_0 against fp32.
// The page is single-threaded (no cross-origin isolation on a static host).
//
//   npm run build && npm run bench:report -- [seq]   (default 4096)
import { loadavg } from 'node:os';
import { benchSection, printTable } from './page.mjs';

// Other processes' load skews every figure on a shared machine: say how much.
const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');
const loadBefore = load();

const [seq = 4096] = process.argv.slice(2).map(Number);
const number = (text) => Number.parseFloat(String(text).replace(/[^0-9.eE+-]/g, ''));

const attention = await benchSection('flash-vs-naive',
  { seqMin: seq, seqMax: seq, headDim: 64, heads: 4, kvHeads: 4, block: 64, repeats: 3, causal: false },
  '[data-test=diff-table]');
// columns: seq, naive ms, flash ms, naive GFLOP/s, flash GFLOP/s, ...
const [, , flashMs, naiveGflops, flashGflops] = attention.rows[0];

// Five runs in one page, the fastest step and the fastest floor: natively the
// step is the fastest of 3 runs and the floor the fastest of 20 batches (see
// benchSection for why one run is not enough).
const decode = await benchSection('kv-cache',
  { tokens: '100', layers: 4, dModel: 128, heads: 4, kvHeads: 4, noCache: true },
  '[data-test=kv-table]', 5);
// columns: tokens, no cache tok/s, cache tok/s, cached step (a token after the
// first, whose time is the prompt's prefill), speedup, ceiling, KV allocated;
// the caption says how long reading the weights once takes (the floor).
const cacheTps = Math.max(...decode.runs.map((r) => number(r.rows[0][2])));
const noCacheTps = Math.max(...decode.runs.map((r) => number(r.rows[0][1])));
const steps = decode.runs.map((r) => number(r.rows[0][3]));
const stepUs = Math.min(...steps);
const floorUs = Math.min(...decode.runs.map((r) =>
  number(r.caption.match(/reading them once takes (\S+) µs/)?.[1] ?? 'NaN')));
const productsUs = Math.min(...decode.runs.map((r) =>
  number(r.caption.match(/output head, no attention\) take (\S+) µs/)?.[1] ?? 'NaN')));
const speedup = cacheTps / noCacheTps;

const quant = await benchSection('quantization',
  { rows: 128, cols: 256, group: 128, mvRows: 4096, mvCols: 4096, repeats: 7, matvec: true },
  '[data-test=matvec-table]');
// columns: format, bits/w, weights, kernel ms, fp32 ms, speed-up, ...
const formats = quant.rows.filter((r) => ['q8_0', 'q4_0'].includes(r[0]));

console.log(`memlab report in headless ${attention.browserName}, one thread (wasm SIMD128)`);
console.log(`load average (1, 5, 15 min): ${loadBefore} before, ${load()} after`);
console.log(`cached step of each run, µs: ${steps.join(', ')}`);
printTable(['figure', 'value', 'against'], [
  [`flash seq ${seq}`, `${flashGflops} GFLOP/s`, `${flashMs} ms; naive ${naiveGflops} GFLOP/s`],
  ['cached step', `${stepUs.toFixed(1)} µs`, `${(stepUs / floorUs).toFixed(2)}× floor ${floorUs.toFixed(1)} µs (speedup ${speedup.toFixed(1)}×)`],
  ['its products alone', `${productsUs.toFixed(1)} µs`, `${(productsUs / floorUs).toFixed(2)}× floor (every x · W and the head; the rest ${(stepUs - productsUs).toFixed(1)} µs)`],
  ...formats.map((r) => [`${r[0]} matvec`, `${r[3]} ms`, `${r[5]} fp32 ${r[4]} ms`]),
]);
