// Flash vs naive attention: same output, memory O(seq) instead of O(seq^2).
import { formatBytes, formatMs, formatMsUnit, formatNumber, formatSci } from '../ui/format.js';
import { badge } from '../ui/table.js';
import { runSweep } from '../lib/sweep.js';
import { attentionControls, attentionPoints, attentionWarmUp } from '../lib/attention.js';

/** Flash and naive must agree to this max abs difference (fp32, different summation order). */
export const TOLERANCE = 1e-5;
const colors = { naive: '#d9480f', flash: '#1c7ed6' };
const seqAxis = { label: 'seq', log2: true, format: String };

export default {
  id: 'flash-vs-naive',
  order: 10,
  title: 'Flash vs naive attention',
  intro: `
    <p>Attention computes <code>softmax(Q Kᵀ / √head_dim) V</code> for every head. The
    <b>naive</b> way materialises the full <code>seq × seq</code> score matrix first: at
    seq 4096 that is 64 MiB of fp32 per head, and it grows with the <em>square</em> of
    the sequence length.</p>
    <p><b>FlashAttention</b> never builds it. It walks over K and V in tiles of
    <code>block</code> rows and keeps, for each query row, a running maximum and a
    running sum of exponentials (the <em>online softmax</em>): when a new tile raises
    the maximum, the partial output is rescaled by <code>exp(old_max − new_max)</code>,
    so the end result is exactly softmax-weighted, up to float rounding. Only a
    <code>block × block</code> tile of scores is alive at any time, so the extra memory
    grows <em>linearly</em> with seq. The arithmetic is the same; on a GPU the win is
    also speed, because the big matrix never travels to and from slow memory. With
    <b>causal</b> masking, flash skips the tiles above the diagonal altogether.</p>
    <p>On these log–log charts a straight line's slope is the exponent: watch the naive
    peak heap rise with slope 2 and flash's with slope 1. The table checks that both
    give the same output (max abs difference ≤ ${TOLERANCE.toExponential(0)}).</p>`,
  controls: attentionControls({ to: 2048 }),
  calls: ['runAttention'],
  warmUp: attentionWarmUp,
  // on arrival: a shorter sweep, one repeat
  arrival: { seqMax: 1024, repeats: 1 },

  run(v, core, onProgress) {
    return runSweep(attentionPoints(v), (p) => core.call('runAttention', p.config), onProgress);
  },

  async render(results, view) {
    const series = (pick) => [
      { label: 'naive', color: colors.naive, points: results.map((r) => [r.config.seq, pick(r.naive)]) },
      { label: 'flash', color: colors.flash, points: results.map((r) => [r.config.seq, pick(r.flash)]) },
    ];
    await view.chart('time', {
      title: 'Time per forward pass (median)',
      x: seqAxis,
      y: { label: 'time', log2: true, format: formatMsUnit },
      series: series((f) => f.medianMs),
    });
    await view.chart('heap', {
      title: 'Tracked peak heap',
      x: seqAxis,
      y: { label: 'peak heap', log2: true, format: formatBytes },
      series: series((f) => f.peakBytes),
    });
    view.table('results', {
      test: 'diff-table',
      rows: results,
      columns: [
        { label: 'seq', value: (r) => r.config.seq },
        { group: 'time (ms)', label: 'naive', value: (r) => r.naive.medianMs, format: formatMs },
        { group: 'time (ms)', label: 'flash', value: (r) => r.flash.medianMs, format: formatMs },
        { group: 'GFLOP/s', label: 'naive', value: (r) => r.naive.gflops, format: formatNumber },
        { group: 'GFLOP/s', label: 'flash', value: (r) => r.flash.gflops, format: formatNumber },
        { group: 'peak heap', label: 'naive', value: (r) => r.naive.peakBytes, format: formatBytes },
        { group: 'peak heap', label: 'flash', value: (r) => r.flash.peakBytes, format: formatBytes },
        {
          label: 'max abs diff',
          value: (r) => r.maxAbsDiff,
          format: (d) => [formatSci(d), d <= TOLERANCE ? badge('ok', 'ok') : badge(`> ${TOLERANCE.toExponential(0)}`, 'bad')],
          attrs: (r) => ({ 'data-diff': String(r.maxAbsDiff) }),
        },
      ],
    });
  },
};
