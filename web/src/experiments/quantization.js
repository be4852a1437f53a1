// Quantization: bits per weight against error for every scheme, why NF4 exists,
// and what fewer bytes per weight do to the speed of y = W x.
import { int, checkbox } from '../ui/controls.js';
import { formatBytes, formatMs, formatMsUnit, formatNumber, formatSci } from '../ui/format.js';
import { badge } from '../ui/table.js';
import { runSweep } from '../lib/sweep.js';

/** A kernel must match its plain reference to this, relative to Σ|w·x| (fp32 summation order). */
export const KERNEL_TOLERANCE = 1e-5;
const colors = { gaussian: '#1c7ed6', heavy: '#d9480f', int4: '#d9480f', nf4: '#2b8a3e', row: '#868e96' };
const distributions = ['gaussian', 'heavy'];
const distributionName = { gaussian: 'Gaussian', heavy: 'heavy-tailed (t₃)' };

/** The schemes of the error sweep: name, and for int8/int4 the granularity. */
export function schemes(group) {
  const affine = ['int8_sym', 'int8_asym', 'int4_sym', 'int4_asym'].flatMap((format) => [
    { format, granularity: 'channel', label: `${format} per channel` },
    { format, granularity: 'group', label: `${format} group ${group}` },
  ]);
  const plain = ['fp16', 'q8_0', 'q4_0', 'q4_1', 'nf4', 'nf4_dq'].map((format) => ({ format, granularity: 'group', label: format }));
  return [plain[0], ...affine, ...plain.slice(1)];
}

/** The formats whose matvec is timed (int8/int4 per group). */
export const matvecFormats = ['fp32', 'fp16', 'int8_sym', 'int8_asym', 'int4_sym', 'int4_asym', 'q8_0', 'q4_0', 'q4_1', 'nf4', 'nf4_dq'];

/** Counts of `values` in `bins` equal bins over [lo, hi]: [[center, count], ...]. */
export function histogram(values, bins, lo, hi) {
  const counts = new Array(bins).fill(0);
  const width = (hi - lo) / bins;
  for (const v of values) counts[Math.min(bins - 1, Math.max(0, Math.floor((v - lo) / width)))]++;
  return counts.map((c, i) => [lo + (i + 0.5) * width, c]);
}

export default {
  id: 'quantization',
  order: 30,
  title: 'Quantization',
  intro: `
    <p>A 7B-parameter model is 14 GB of fp16 weights. <b>Quantization</b> stores each
    weight in fewer bits: with <b>8 bits</b> the weights take about half the memory of
    fp16, with <b>4 bits</b> about a quarter (a little more, for the scales). Each group
    of weights shares a <b>scale</b> <i>s</i>; a weight <i>w</i> becomes the integer
    <code>round(w / s)</code>. <b>Symmetric</b> (absmax) scales put 0 in the middle;
    <b>asymmetric</b> ones add a zero point and use the whole range from min to max.
    One scale per tensor is cheapest, but a single outlier stretches the step for every
    weight; one per output <b>channel</b> or per <b>group</b> of G weights keeps the
    damage local, at 32 more bits per group.</p>
    <p><b>Q8_0, Q4_0, Q4_1</b> are llama.cpp's block formats: 32 weights per block, an fp16
    scale (and for Q4_1 a minimum), byte for byte as ggml writes them. <b>NF4</b>
    (QLoRA) uses 16 levels placed at quantiles of a normal distribution, so that every
    4-bit code is used equally often on normally distributed weights; <b>double
    quantization</b> also stores the per-64 scales in 8 bits: 4.127 instead of 4.5 bits
    per weight. The charts show the price in error (‖W − Ŵ‖ / ‖W‖) on Gaussian weights
    and on heavy-tailed ones with outliers, how int4 and NF4 grids sit on a row of
    weights, and the matrix-vector product y = W x that every generated token runs for
    every layer: reading 4.5 instead of 32 bits per weight makes it faster, if unpacking
    costs less than the bytes it saves. Quality claims like "&lt; 1% accuracy loss" are
    about whole models on benchmarks; here you see the error of one matrix and of its
    output y.</p>`,
  controls: [
    int('rows', 'rows', 1024, 'of W, for the error sweep'),
    int('cols', 'cols', 1024, 'a multiple of 32 and of group'),
    int('group', 'group', 128, 'weights per scale, int8/int4'),
    int('mvRows', 'matvec rows', 4096, 'of W, for the timing'),
    int('mvCols', 'matvec cols', 4096, 'a multiple of 128'),
    int('repeats', 'repeats', 5, 'matvec time is their median'),
    checkbox('matvec', 'time matvec', true, 'y = W x per format'),
  ],
  calls: ['runQuant', 'runQuantGrid', 'quantFormats'],
  // on arrival: smaller matrices, fewer repeats (the defaults take ~45 s here)
  arrival: { rows: 512, cols: 512, mvRows: 2048, mvCols: 2048, repeats: 3 },
  // every format's kernels, matvec included, at a small size
  async warmUp(core) {
    for (const format of await core.call('quantFormats'))
      await core.call('runQuant', { rows: 256, cols: 1024, format, granularity: 'group', group: 128,
        distribution: 'gaussian', runMatvec: true, repeats: 3, seed: 1 });
  },

  run(v, core, onProgress) {
    const common = { group: v.group, repeats: v.repeats, seed: 1 };
    const points = [
      ...distributions.flatMap((distribution) => schemes(v.group).map((s) => ({
        label: `${s.label}, ${distribution} weights`,
        kind: 'error', fn: 'runQuant', scheme: s.label,
        config: { ...common, rows: v.rows, cols: v.cols, format: s.format, granularity: s.granularity,
          distribution, runMatvec: false, repeats: 1 },
      }))),
      ...distributions.map((distribution) => ({
        label: `int4 and NF4 grids, ${distribution} row`,
        kind: 'grid', fn: 'runQuantGrid', config: { cols: 4096, distribution, seed: 3 },
      })),
      ...(v.matvec ? matvecFormats.map((format) => ({
        label: `matvec ${format}, ${v.mvRows} × ${v.mvCols}`,
        kind: 'matvec', fn: 'runQuant',
        config: { ...common, rows: v.mvRows, cols: v.mvCols, format, granularity: 'group',
          distribution: 'gaussian', runMatvec: true },
      })) : []),
    ];
    return runSweep(points, async (p) => ({ kind: p.kind, scheme: p.scheme, ...(await core.call(p.fn, p.config)) }),
      onProgress);
  },

  async render(results, view, v) {
    const errors = results.filter((r) => r.kind === 'error');
    const grids = results.filter((r) => r.kind === 'grid');
    const matvecs = results.filter((r) => r.kind === 'matvec');

    if (errors.length) {
      await view.chart('tradeoff', {
        title: 'Bits per weight vs relative error ‖W − Ŵ‖ / ‖W‖',
        mode: 'index',
        x: { label: 'bits per weight', format: (b) => String(Number(b.toPrecision(3))) },
        y: { label: 'relative error', log10: true, format: formatSci },
        series: distributions.map((d) => ({
          label: `${distributionName[d]} weights`,
          color: colors[d],
          points: errors.filter((r) => r.config.distribution === d).map((r) => [r.bitsPerWeight, r.error.relFrobenius, r.scheme]),
          style: { showLine: false, pointRadius: 4, pointHoverRadius: 7 },
        })),
      });
    }
    for (const g of grids) await this.renderGrid(g, view);
    if (matvecs.length) {
      await view.chart('matvec', {
        title: `y = W x, W ${v.mvRows} × ${v.mvCols}: time vs bits per weight`,
        mode: 'nearest',
        x: { label: 'bits per weight', format: (b) => String(Number(b.toPrecision(3))) },
        y: { label: 'time (median)', log2: true, format: formatMsUnit },
        series: [{
          label: 'each format\'s kernel (fp32 at 32 bits)', color: colors.gaussian,
          points: matvecs.map((r) => [r.bitsPerWeight, r.matvec.medianMs, r.label]),
          style: { showLine: false, pointRadius: 4, pointHoverRadius: 7 },
        }],
      });
    }

    if (errors.length) this.errorTable(errors, view, v);
    if (grids.length) {
      view.table('grids', {
        test: 'grid-table',
        caption: 'One row of 4096 weights, one scale for the row: int4 symmetric (15 levels) and NF4 (16 levels). Code entropy: the information a 4-bit code really carries, at most 4 bits.',
        rows: grids,
        columns: [
          { label: 'weights', value: (g) => distributionName[g.config.distribution], numeric: false },
          { group: 'RMSE', label: 'int4', value: (g) => g.int4Rmse, format: formatSci },
          { group: 'RMSE', label: 'NF4', value: (g) => g.nf4Rmse, format: formatSci },
          { group: 'code entropy (bits)', label: 'int4', value: (g) => g.int4EntropyBits, format: formatNumber,
            attrs: (g) => ({ 'data-int4-entropy': String(g.int4EntropyBits) }) },
          { group: 'code entropy (bits)', label: 'NF4', value: (g) => g.nf4EntropyBits, format: formatNumber,
            attrs: (g) => ({ 'data-nf4-entropy': String(g.nf4EntropyBits) }) },
        ],
      });
    }
    if (matvecs.length) this.matvecTable(matvecs, view, v);
  },

  async renderGrid(g, view) {
    const d = g.config.distribution;
    const amax = g.row.reduce((m, w) => Math.max(m, Math.abs(w)), 0);
    const bins = histogram(g.row, 81, -amax, amax);
    const top = Math.max(...bins.map(([, c]) => c));
    await view.chart(`grid-${d}`, {
      title: `A ${distributionName[d]} row of 4096 weights and the values int4 and NF4 can store`,
      mode: 'nearest',
      x: { label: 'weight', format: (w) => String(Number(w.toPrecision(2))) },
      y: { label: 'weights per bin', format: (c) => String(Math.round(c)) },
      series: [
        { label: 'histogram', color: colors.row, points: bins, style: { stepped: 'middle', pointRadius: 0, borderWidth: 1.5 } },
        { label: 'int4 levels (15)', color: colors.int4,
          points: Array.from(g.int4Grid, (w, i) => [w, top * 1.08, `int4 level ${i - 7}: ${g.int4Counts[i]} weights`]),
          style: { showLine: false, pointStyle: 'line', rotation: 90, pointRadius: 9, borderWidth: 2 } },
        { label: 'NF4 levels (16)', color: colors.nf4,
          points: Array.from(g.nf4Grid, (w, i) => [w, top * 1.2, `NF4 code ${i}: ${g.nf4Counts[i]} weights`]),
          style: { showLine: false, pointStyle: 'line', rotation: 90, pointRadius: 9, borderWidth: 2 } },
      ],
    });
  },

  errorTable(errors, view, v) {
    const byScheme = new Map();
    for (const r of errors) {
      if (!byScheme.has(r.scheme)) byScheme.set(r.scheme, {});
      byScheme.get(r.scheme)[r.config.distribution] = r;
    }
    const rows = [...byScheme.entries()].map(([scheme, by]) => ({ scheme, ...by, any: by.gaussian ?? by.heavy }));
    const fp16Bytes = v.rows * v.cols * 2;
    const cols = (d) => [
      { group: `${distributionName[d]} weights`, label: 'rel. error', value: (r) => r[d]?.error.relFrobenius ?? NaN, format: formatSci },
      { group: `${distributionName[d]} weights`, label: 'max |w − ŵ|', value: (r) => r[d]?.error.maxAbs ?? NaN, format: formatSci },
    ];
    view.table('errors', {
      test: 'error-table',
      caption: `W ${v.rows} × ${v.cols}, weights with standard deviation 0.02. Storage is exact (tracked bytes, scales and zero points included).`,
      rows,
      columns: [
        { label: 'scheme', value: (r) => r.scheme, numeric: false },
        { label: 'bits / weight', value: (r) => r.any.bitsPerWeight, format: (b) => b.toFixed(3),
          attrs: (r) => ({ 'data-bits': String(r.any.bitsPerWeight) }) },
        { label: 'weights', value: (r) => r.any.weightBytes, format: formatBytes },
        { label: 'vs fp16', value: (r) => r.any.weightBytes / fp16Bytes, format: (f) => `${(100 * f).toFixed(1)}%` },
        ...cols('gaussian'),
        ...cols('heavy'),
      ],
    });
  },

  matvecTable(matvecs, view, v) {
    view.table('matvec', {
      test: 'matvec-table',
      caption: `W ${v.mvRows} × ${v.mvCols} Gaussian, x Gaussian; medians of ${v.repeats} runs after a warm-up. ` +
        'q8_0/q4_0/q4_1 quantize x to Q8_0 and use integer dot products per block; the others dequantize on the fly. ' +
        'y error: ‖y − W x‖ / ‖W x‖. Kernel: difference from the plain reference.',
      rows: matvecs,
      columns: [
        { label: 'format', value: (r) => r.label, numeric: false },
        { label: 'bits / weight', value: (r) => r.bitsPerWeight, format: (b) => b.toFixed(3) },
        { label: 'weights', value: (r) => r.weightBytes, format: formatBytes },
        { group: 'time (ms)', label: 'kernel', value: (r) => r.matvec.medianMs, format: formatMs },
        { group: 'time (ms)', label: 'fp32', value: (r) => r.fp32Matvec.medianMs, format: formatMs },
        { label: 'speed-up', value: (r) => r.speedup, format: (s) => `${s.toFixed(2)}×`,
          attrs: (r) => ({ 'data-speedup': String(r.speedup) }) },
        { label: 'y error', value: (r) => r.outputRelError, format: formatSci },
        {
          label: 'kernel',
          value: (r) => r.kernelRelDiff,
          format: (d) => [formatSci(d), d <= KERNEL_TOLERANCE ? badge('ok', 'ok') : badge(`> ${KERNEL_TOLERANCE.toExponential(0)}`, 'bad')],
          attrs: (r) => ({ 'data-kernel-diff': String(r.kernelRelDiff) }),
        },
      ],
    });
  },
};
