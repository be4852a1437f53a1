// Once an exercise's tests pass: the learner's implementation measured over a
// sweep of sizes (the test.cpp's MEMLAB_BENCHMARK, run in the browser), charted
// against the core's implementation of the same technique (the memlab wasm
// module, in the core worker) where the core has one: time (median of 3 runs
// after a warm-up) and peak scratch heap.
//
// Heap figures are comparable: the learner's is the lab's operator new counter
// over one call with inputs and output allocated before; the core's is its
// tracker's peak of one call minus the output tensor it returns.
import { el } from '../ui/dom.js';
import { createView } from '../ui/section.js';
import { formatBytes, formatMs, formatMsUnit } from '../ui/format.js';
import { attentionWarmUp } from '../lib/attention.js';
import { warmUp } from '../lib/warm-up.js';

// One flash attention forward of the core at sequence length n, d 64, tiles of 64.
const coreAttention = (shape) => async (core, n) => {
  const f = await core.call('runAttention', {
    seq: n, headDim: 64, heads: 1, kvHeads: 1, causal: false, blockQ: 64, blockKv: 64,
    repeats: 3, seed: 1, runNaive: false, ...shape,
  });
  const outputBytes = f.config.heads * n * 64 * 4;
  return { ms: f.flash.medianMs, peakBytes: Math.max(f.flash.peakBytes - outputBytes, 0) };
};

// Quantize n Gaussian values to `format` and dequantize them back. The core's call
// allocates the quantized storage and ŵ, which the exercise's benchmark allocates
// before its call: both are taken out of the peak.
const coreRoundTrip = (format) => async (core, n) => {
  const f = await core.call('quantRoundTrip', format, n, 3, 1);
  return { ms: f.ms, peakBytes: Math.max(f.peakBytes - f.quantizedBytes - f.outputBytes, 0) };
};

// Decode n tokens over the core's contiguous KV cache, 4 query heads on one K/V
// head of 64, as the exercise's benchmark does. The core's flash returns a new
// output per step (the previous one still alive): both are taken out of the peak;
// the cache stays in, as the learner's does.
const coreCacheDecode = async (core, n) => {
  const f = await core.call('runCacheDecode', { tokens: n, heads: 4, kvHeads: 1, headDim: 64, repeats: 3, seed: 1 });
  return { ms: f.run.medianMs, peakBytes: Math.max(f.run.peakBytes - 2 * 4 * 64 * 4, 0) };
};

// Untimed runs before the first timed one (lib/warm-up.js), each once per page.
const cacheDecodeWarmUp = [{ fn: 'runCacheDecode', args: [{ tokens: 128, heads: 4, kvHeads: 1, headDim: 64, repeats: 2, seed: 1 }] }];
const roundTripWarmUp = ['q8_0', 'nf4'].map((format) => ({ fn: 'quantRoundTrip', args: [format, 4096, 2, 1] }));

// One round of the core's LSH attention at sequence length n, d 64, 8 buckets,
// chunks of 64, as the exercise's benchmark runs it; its output is taken out of
// the peak (the learner's is allocated before the call).
const lshConfig = (n) => ({
  seq: n, headDim: 64, heads: 1, nBuckets: 8, nRounds: 1, chunk: 64, causal: false, data: 'random',
  clusterSize: 16, repeats: 3, seed: 1, runExact: false, runNaive: false, runFlash: false,
});
const coreLsh = async (core, n) => {
  const f = await core.call('runLsh', lshConfig(n));
  return { ms: f.lsh.medianMs, peakBytes: Math.max(f.lsh.peakBytes - n * 64 * 4, 0) };
};
const lshWarmUp = [{ fn: 'runLsh', args: [{ ...lshConfig(512), repeats: 2 }] }];

/**
 * The core's counterpart of each exercise's benchmark; add one where the core gains it:
 * label, run(core, n) -> { ms, peakBytes }, warmUp (as an experiment's).
 */
export const coreCounterparts = {
  '02-flash-attention': { label: 'core (attention::flash)', run: coreAttention({}), warmUp: attentionWarmUp },
  '03-causal-attention': { label: 'core (attention::flash, causal)', run: coreAttention({ causal: true }), warmUp: attentionWarmUp },
  '04-gqa': { label: 'core (attention::flash, 8 heads, 2 K/V heads)', run: coreAttention({ heads: 8, kvHeads: 2 }), warmUp: attentionWarmUp },
  '05-kv-cache': { label: 'core (contiguous_kv_cache + attention::flash)', run: coreCacheDecode, warmUp: cacheDecodeWarmUp },
  '07-q8-0': { label: 'core (ggml Q8_0 quantize + dequantize)', run: coreRoundTrip('q8_0'), warmUp: roundTripWarmUp },
  '08-nf4': { label: 'core (NF4 quantize + dequantize, blocks of 64)', run: coreRoundTrip('nf4'), warmUp: roundTripWarmUp },
  '12-lsh-attention': { label: 'core (attention::lsh, 1 round)', run: coreLsh, warmUp: lshWarmUp },
};

const colors = { yours: '#2b8a3e', core: '#1c7ed6' };

/**
 * Runs the comparison into `box` (its data-state: running, done, error, none).
 * lab: the exercise lab (client.js); core: the core client; progress: ui/progress.js.
 */
export async function compareWithCore(exercise, code, box, { lab, core, progress }) {
  box.replaceChildren();
  box.dataset.state = 'running';
  const counterpart = coreCounterparts[exercise.slug];
  const heading = el('h3', { textContent: counterpart ? 'Your implementation against the core' : 'Your implementation by size' });
  const note = el('p', { className: 'comparison-note' });
  const output = el('div');
  box.append(heading, note, output);

  const files = { 'exercise.cpp': code, 'test.cpp': exercise.test };
  const mine = await lab.benchmark(files, (event, points) => {
    if (event.event === 'bench-start') progress?.update(event.index, event.count, `measuring your code: ${event.axis} ${event.n}`);
  });
  if (mine.kind === 'cancelled') { box.replaceChildren(); delete box.dataset.state; return; }
  if (mine.points.length === 0) {
    box.dataset.state = 'none';
    note.textContent = mine.kind === 'tested' ? 'This exercise has no benchmark.' : `The benchmark did not run: ${mine.message ?? mine.kind}`;
    progress?.hide();
    return;
  }
  if (mine.kind !== 'tested') {
    note.textContent = mine.kind === 'timeout'
      ? `The benchmark was stopped after ${mine.seconds} s; the sizes it reached are shown.`
      : `The benchmark stopped: ${mine.message ?? mine.kind}.`;
  }

  const { name, axis } = mine.points[0];
  const theirs = [];
  if (counterpart) {
    progress?.update(0, mine.points.length, 'warming up the core (untimed runs)');
    await warmUp(core, counterpart.warmUp);
    for (const p of mine.points) {
      if (box.dataset.state !== 'running') return; // the learner moved on
      progress?.update(theirs.length, mine.points.length, `measuring the core: ${axis} ${p.n}`);
      theirs.push({ n: p.n, ...(await counterpart.run(core, p.n)) });
    }
  }
  progress?.hide();

  const series = (pick) => [
    { label: `yours (${name})`, color: colors.yours, dash: [6, 4], points: mine.points.map((p) => [p.n, pick(p)]) },
    ...(counterpart ? [{ label: counterpart.label, color: colors.core, points: theirs.map((p) => [p.n, pick(p)]) }] : []),
  ];
  const view = createView(output);
  const x = { label: axis, log2: true, format: String };
  await view.chart('time', { title: 'Time per call (median of 3)', x, y: { label: 'time', log2: true, format: formatMsUnit },
    series: series((p) => p.ms) });
  const anyHeap = [...mine.points, ...theirs].some((p) => p.peakBytes > 0);
  if (anyHeap) {
    await view.chart('heap', { title: 'Peak heap of one call (inputs and output excluded)', x,
      y: { label: 'peak heap', log2: true, format: formatBytes }, series: series((p) => p.peakBytes) });
  }
  const last = mine.points[mine.points.length - 1];
  const reference = theirs.find((p) => p.n === last.n);
  note.textContent += `${note.textContent ? ' ' : ''}At ${axis} ${last.n}: yours ${formatMs(last.ms)} ms, ${formatBytes(last.peakBytes)} of heap` +
    (reference ? `; the core ${formatMs(reference.ms)} ms, ${formatBytes(reference.peakBytes)}.` : '.') +
    (anyHeap ? '' : ' Your code allocates nothing while it runs.');
  box.dataset.state = 'done';
}
