// Flash backward: a training step of attention (forward + backward) without the
// seq × seq probabilities, recomputed tile by tile from the logsumexp.
import { formatBytes, formatMs, formatMsUnit, formatNumber, formatSci } from '../ui/format.js';
import { badge } from '../ui/table.js';
import { runSweep } from '../lib/sweep.js';
import { attentionControls, attentionPoints } from '../lib/attention.js';

/** dQ, dK, dV of flash and naive must agree to this error relative to the largest value. */
export const TOLERANCE = 1e-5;
const colors = { naive: '#d9480f', flash: '#1c7ed6' };
const seqAxis = { label: 'seq', log2: true, format: String };

export default {
  id: 'flash-backward',
  order: 12,
  title: 'Flash backward: training without the seq × seq matrix',
  intro: `
    <p>Training needs attention's <b>backward</b> pass too. With <code>P = softmax(Q Kᵀ / √d)</code>
    and <code>dO</code> the gradient reaching the output: <code>dV = Pᵀ dO</code>,
    <code>dS = P ∘ (dO Vᵀ − D)</code> with <code>D = rowsum(dO ∘ O)</code>, then
    <code>dQ = dS K / √d</code> and <code>dK = dSᵀ Q / √d</code>. Eager frameworks keep
    <code>P</code> from the forward pass for this, <code>heads × seq × seq</code> floats, and
    allocate its gradient of the same size: the <b>naive</b> step's memory grows with the
    square of seq, forward or not.</p>
    <p><b>FlashAttention</b>'s forward keeps only its output and, per query row, the
    <em>logsumexp</em> <code>L = m + log l</code> of its online softmax. Since
    <code>P_ij = exp(S_ij − L_i)</code>, the backward <b>recomputes</b> each tile of
    <code>P</code> from <code>Q</code>, <code>K</code> and <code>L</code>, and adds each tile's
    share to <code>dQ</code>, <code>dK</code>, <code>dV</code>: memory linear in seq for one
    more <code>Q Kᵀ</code> product (about 2.5× the forward's work instead of 2×). The K/V
    tiles are the outer loop, so with <b>GQA</b> a K/V head's <code>dK</code> and
    <code>dV</code> gather the whole group before they are written; with <b>causal</b>
    masking the tiles above the diagonal are skipped.</p>
    <p>Each point times one forward + backward (median of the repeats) and takes the tracked
    peak of everything the step allocates: the forward's output, what it keeps, the
    gradients and the scratch. The table checks that both give the same gradients.</p>`,
  calls: ['runFlashBackward'],
  // one small step each way, plain and causal, so the kernels tier up before the first point
  warmUp: [false, true].map((causal) => ({ fn: 'runFlashBackward', args: [{ seq: 128, headDim: 64,
    heads: 2, kvHeads: 2, causal, blockQ: 64, blockKv: 64, repeats: 2, seed: 1, runNaive: true }] })),
  controls: attentionControls({ to: 1024 }),

  run(v, core, onProgress) {
    return runSweep(attentionPoints(v), (p) => core.call('runFlashBackward', p.config), onProgress);
  },

  async render(results, view) {
    const series = (pick) => ['naive', 'flash'].map((name) => ({
      label: name, color: colors[name], points: results.map((r) => [r.config.seq, pick(r[name])]),
    }));
    await view.chart('time', {
      title: 'Time of forward + backward (median)',
      x: seqAxis,
      y: { label: 'time', log2: true, format: formatMsUnit },
      series: series((f) => f.medianMs),
    });
    await view.chart('heap', {
      title: 'Tracked peak heap of forward + backward',
      x: seqAxis,
      y: { label: 'peak heap', log2: true, format: formatBytes },
      series: series((f) => f.peakBytes),
    });
    const both = (group, value, format) => ['naive', 'flash'].map((name) => ({
      group, label: name, value: (r) => value(r[name]), format,
    }));
    view.table('results', {
      test: 'backward-table',
      rows: results,
      columns: [
        { label: 'seq', value: (r) => r.config.seq },
        ...both('fwd + bwd (ms)', (f) => f.medianMs, formatMs),
        ...both('GFLOP/s', (f) => f.gflops, formatNumber),
        ...both('peak heap', (f) => f.peakBytes, formatBytes),
        {
          label: 'dQ, dK, dV rel. diff',
          value: (r) => r.maxRelDiff,
          format: (d) => [formatSci(d), d <= TOLERANCE ? badge('ok', 'ok') : badge(`> ${TOLERANCE.toExponential(0)}`, 'bad')],
          attrs: (r) => ({ 'data-diff': String(r.maxRelDiff), 'data-naive-peak': String(r.naive.peakBytes), 'data-flash-peak': String(r.flash.peakBytes) }),
        },
      ],
    });
  },
};
