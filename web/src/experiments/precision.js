// Precision: fp32, fp16 and bf16 storage, with sums in fp32 or in the low format.
// Attention and a matmul against float64: error vs sequence length and vs logit
// scale, fp16's overflow (and scaling first), bytes halved, rounding errors.
import { int, checkbox, intList, pow2Range } from '../ui/controls.js';
import { formatBytes, formatMs, formatMsUnit, formatNumber, formatSci } from '../ui/format.js';
import { runSweep } from '../lib/sweep.js';

// One colour and dash per arithmetic, in the order the core lists them.
const styles = {
  'fp32': { color: '#343a40' },
  'bf16, fp32 sums': { color: '#1c7ed6' },
  'fp16, fp32 sums': { color: '#2b8a3e' },
  'fp16, fp32 sums, scale first': { color: '#2b8a3e', dash: [2, 3] },
  'bf16, bf16 sums': { color: '#1c7ed6', dash: [6, 4] },
  'fp16, fp16 sums': { color: '#d9480f', dash: [6, 4] },
};
const formatColors = { fp16: '#2b8a3e', bf16: '#1c7ed6' };
// Column heads of the scale table: the arithmetic in a few characters.
const short = {
  'fp32': 'fp32',
  'bf16, fp32 sums': 'bf16',
  'fp16, fp32 sums': 'fp16',
  'fp16, fp32 sums, scale first': 'fp16, Q scaled first',
  'bf16, bf16 sums': 'bf16 sums',
  'fp16, fp16 sums': 'fp16 sums',
};
const seqAxis = { label: 'seq', log2: true, format: String };
const errorAxis = { label: 'relative error', log10: true, format: formatSci };

export default {
  id: 'precision',
  order: 32,
  title: 'Precision: fp32, fp16, bf16',
  intro: `
    <p>Storing tensors in 16 bits halves their bytes. <b>fp16</b> keeps 11 significant
    bits (a store rounds by at most <code>u = 2<sup>−11</sup></code>) but its exponent
    stops at <b>65504</b>: anything from 65520 up becomes infinity. <b>bf16</b> is the top
    half of an fp32 — the same range as fp32, but only 8 significant bits
    (<code>u = 2<sup>−8</sup></code>). Hardware multiplies 16-bit inputs and <b>sums in
    fp32</b>; summing in the low format stalls once the sum is large (in bf16,
    256 + 1 rounds back to 256), and the error grows with the length of the sums.</p>
    <p>Here eager attention (<code>S = QKᵀ·scale</code>, <code>P = softmax(S)</code>,
    <code>O = PV</code>, each stored) and a matmul <code>[64, seq] × [seq, 64]</code> run
    in each arithmetic, emulated one rounding at a time, against float64 from the same
    inputs. Raise the <b>logit scale</b> and fp16's unscaled logits pass 65504: stored as
    inf, the row's max is inf, <code>inf − inf = NaN</code>, and the output is NaN.
    Computing <code>(Q·scale)Kᵀ</code> instead keeps the logits √head_dim times smaller.
    Times are the emulation's (real fp16 hardware is faster, not slower); the bytes
    are real.</p>`,
  calls: ['runPrecision', 'runRounding'],  // error figures; the times are incidental
  warmUp: [{ fn: 'runPrecision', args: [{ seq: 64, headDim: 64, heads: 1, causal: false,
    repeats: 1, seed: 1, logitScale: 1 }] }],
  controls: [
    pow2Range('seq', 'seq', { from: 64, to: 256, max: 1024 }),
    int('headDim', 'head_dim', 64, 'values per head'),
    checkbox('causal', 'causal', false, 'mask future positions'),
    int('scaleSeq', 'seq for scales', 64, 'of the logit-scale sweep'),
    intList('scales', 'logit scales', [1, 10, 100, 1000, 3000, 10000, 30000], 'std of q·k / √head_dim'),
    int('values', 'histogram values', 100000, 'normal draws to round'),
    int('bins', 'bins', 40, 'of the histogram'),
  ],

  run(v, core, onProgress) {
    const common = { headDim: v.headDim, heads: 1, causal: v.causal, repeats: 1, seed: 1 };
    const points = [
      ...v.seq.map((seq) => ({ label: `seq ${seq}`, kind: 'seq', fn: 'runPrecision',
        config: { ...common, seq, logitScale: 1 } })),
      ...v.scales.map((scale) => ({ label: `logit scale ${scale}`, kind: 'scale', fn: 'runPrecision',
        config: { ...common, seq: v.scaleSeq, logitScale: scale } })),
      { label: 'rounding errors', kind: 'rounding', fn: 'runRounding',
        config: { values: v.values, bins: v.bins, stddev: 1, seed: 1 } },
    ];
    return runSweep(points, async (p) => ({ kind: p.kind, ...(await core.call(p.fn, p.config)) }), onProgress);
  },

  async render(results, view) {
    const bySeq = results.filter((r) => r.kind === 'seq');
    const byScale = results.filter((r) => r.kind === 'scale');
    const rounding = results.find((r) => r.kind === 'rounding');
    const labels = (bySeq[0] ?? byScale[0])?.rows.map((r) => r.label) ?? [];
    const series = (points, x, y, keep = () => true) => labels.filter(keep).map((label) => ({
      label, color: styles[label]?.color, dash: styles[label]?.dash,
      points: points.map((p) => [x(p), y(p.rows.find((r) => r.label === label))]),
    }));

    if (bySeq.length) {
      await view.chart('error-seq', {
        title: 'Attention: relative error against float64, by sequence length',
        x: seqAxis, y: errorAxis,
        series: series(bySeq, (p) => p.config.seq, (r) => r.attentionRelative),
      });
      await view.chart('matmul-seq', {
        title: 'Matmul [64, seq] × [seq, 64] of positive values: relative error, by length of the sums',
        x: seqAxis, y: errorAxis,
        series: series(bySeq, (p) => p.config.seq, (r) => r.matmulRelative, (l) => !l.includes('scale first')),
      });
    }
    if (byScale.length) {
      await view.chart('error-scale', {
        title: `Attention at seq ${byScale[0].config.seq}: relative error by logit scale (NaN outputs leave the chart)`,
        x: { label: 'logit scale', log10: true, format: formatNumber }, y: errorAxis,
        series: series(byScale, (p) => p.config.logitScale, (r) => r.attentionRelative),
      });
      await view.chart('nonfinite-scale', {
        title: 'Outputs that are NaN or inf, by logit scale',
        x: { label: 'logit scale', log10: true, format: formatNumber },
        y: { label: 'non-finite outputs', format: (f) => `${Number(f.toPrecision(3))}%` },
        series: series(byScale, (p) => p.config.logitScale,
          (r) => (100 * r.attentionNonfinite) / (byScale[0].config.seq * byScale[0].config.headDim)),
      });
    }
    if (bySeq.length) {
      await view.chart('heap', {
        title: 'Tracked peak heap of attention (Q, K, V, S, O stored): 2 bytes a value halves it',
        x: seqAxis,
        y: { label: 'peak heap', log2: true, format: formatBytes },
        series: series(bySeq, (p) => p.config.seq, (r) => r.attention.peakBytes,
          (l) => l === 'fp32' || l.endsWith(', fp32 sums')),
      });
      await view.chart('time', {
        title: 'Time of the emulation (every rounding done in software)',
        x: seqAxis,
        y: { label: 'time', log2: true, format: formatMsUnit },
        series: series(bySeq, (p) => p.config.seq, (r) => r.attention.medianMs),
      });
    }
    if (rounding) {
      await view.chart('histogram', {
        title: `Relative rounding error (round(x) − x) / x of ${rounding.config.values} normal values, in units of u`,
        mode: 'nearest',
        x: { label: 'error / u', format: (e) => String(Number(e.toFixed(2))) },
        y: { label: 'values per bin', format: (c) => String(Math.round(c)) },
        series: rounding.formats.map((h) => ({
          label: `${h.format} (u = ${formatSci(h.unitRoundoff)}, rms ${formatNumber(h.rmsErrorInU)} u)`,
          color: formatColors[h.format],
          dash: h.format === 'bf16' ? [6, 4] : [], // the same shape as fp16's, in units of its own u
          points: h.counts.map((c, b) => [-1 + (2 * (b + 0.5)) / h.counts.length, c]),
          style: { stepped: 'middle', pointRadius: 0, borderWidth: 1.5 },
        })),
      });
    }

    if (bySeq.length) {
      const last = bySeq[bySeq.length - 1];
      view.table('precision', {
        test: 'precision-table',
        caption: `seq ${last.config.seq}, head_dim ${last.config.headDim}, logit scale 1 (max |q·k| ${formatNumber(last.maxAbsLogit)}); matmul [64, ${last.config.seq}] × [${last.config.seq}, 64].`,
        rows: last.rows,
        columns: [
          { label: 'arithmetic', value: (r) => r.label, numeric: false },
          { group: 'attention', label: 'max |error|', value: (r) => r.attentionMaxAbs, format: formatSci },
          { group: 'attention', label: 'rel. error', value: (r) => r.attentionRelative, format: formatSci,
            attrs: (r) => ({ 'data-relative': String(r.attentionRelative), 'data-label': r.label }) },
          { group: 'matmul', label: 'rel. error', value: (r) => r.matmulRelative, format: formatSci,
            attrs: (r) => ({ 'data-matmul': String(r.matmulRelative) }) },
          { label: 'Q, K, V bytes', value: (r) => r.inputBytes, format: formatBytes,
            attrs: (r) => ({ 'data-bytes': String(r.inputBytes) }) },
          { label: 'peak heap', value: (r) => r.attention.peakBytes, format: formatBytes },
          { label: 'emulated ms', value: (r) => r.attention.medianMs, format: formatMs },
        ],
      });
    }
    if (byScale.length) {
      view.table('scales', {
        test: 'scale-table',
        caption: `Attention at seq ${byScale[0].config.seq}: outputs that are NaN or inf (of ${byScale[0].config.seq * byScale[0].config.headDim}). fp16 stores logits up to 65504. Columns: storage (fp32 sums), or the sums' format.`,
        rows: byScale,
        columns: [
          { label: 'logit scale', value: (p) => p.config.logitScale },
          { label: 'max |q·k|', value: (p) => p.maxAbsLogit, format: formatNumber },
          ...labels.map((label) => ({
            group: 'non-finite outputs', label: short[label] ?? label,
            value: (p) => p.rows.find((r) => r.label === label).attentionNonfinite,
            attrs: (p) => ({ 'data-nonfinite': String(p.rows.find((r) => r.label === label).attentionNonfinite),
              'data-label': label, 'data-scale': String(p.config.logitScale) }),
          })),
        ],
      });
    }
  },
};
