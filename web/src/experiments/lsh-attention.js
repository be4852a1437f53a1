// LSH attention (Reformer): attend only to the keys that hash near the query.
// Time and peak heap against naive and flash attention, and the error against
// exact shared-QK attention over buckets × rounds, on random and clustered keys.
import { int, checkbox, intList, pow2Range } from '../ui/controls.js';
import { formatBytes, formatMs, formatMsUnit, formatNumber, formatSci } from '../ui/format.js';
import { runSweep } from '../lib/sweep.js';

const colors = { lsh: '#2b8a3e', naive: '#d9480f', flash: '#1c7ed6', exact: '#7048e8' };
const roundColors = ['#d9480f', '#1c7ed6', '#2b8a3e', '#7048e8', '#c2255c', '#0b7285'];
const seqAxis = { label: 'seq', log2: true, format: String };

// The log-log slope of a method's time between the first and last points it ran at.
function slope(points, method) {
  const ran = points.filter((p) => p[method].ran && p[method].medianMs > 0);
  if (ran.length < 2) return NaN;
  const [a, b] = [ran[0], ran[ran.length - 1]];
  return Math.log(b[method].medianMs / a[method].medianMs) / Math.log(b.config.seq / a.config.seq);
}

export default {
  id: 'lsh-attention',
  order: 25,
  title: 'LSH attention (Reformer)',
  intro: `
    <p>Softmax is dominated by a query's largest logits. <b>Reformer</b> finds the keys
    that give them without scoring every key: queries and keys share one projection
    (a key is its query as a unit vector), and a <b>locality-sensitive hash</b> by a
    random rotation <code>R</code> puts nearby vectors in the same bucket:
    <code>bucket(x) = argmax([xR, −xR])</code>. The positions are sorted by
    <code>(bucket, position)</code> and cut into chunks; each chunk attends to itself
    and to the chunk before, so the cost per query is <code>2·chunk</code> keys, not
    <code>seq</code>. A position never attends to itself unless it sees nothing else.
    Several <b>rounds</b> of hashing with independent rotations catch the neighbours one
    round missed; their outputs are combined with their softmax normalisers, each pair
    counted once.</p>
    <p>Memory and time grow like <code>seq</code> (the sort adds a log factor in the
    paper): on the log–log charts LSH's slope is about 1 while naive's peak heap has
    slope 2. The price is exactness. On <b>random</b> keys every logit is about as large
    as any other: the attention is spread over the whole sequence and LSH, seeing a
    few chunks, misses most of it. On <b>clustered</b> keys (16 positions a cluster) the
    attention stays in the cluster, which hashes together: with enough rounds and
    buckets the error falls towards zero.</p>`,
  calls: ['runLsh', 'runLshErrors'],
  // LSH, exact, naive and flash once at a small size, so the kernels tier up first
  warmUp: [{ fn: 'runLsh', args: [{ seq: 128, headDim: 64, heads: 1, nBuckets: 8, nRounds: 2,
    chunk: 32, causal: false, data: 'random', clusterSize: 16, repeats: 2, seed: 1,
    runExact: true, runNaive: true, runFlash: true }] }],
  // on arrival: a shorter sweep, one repeat, a smaller error table
  arrival: { seqMax: 2048, naiveMax: 1024, repeats: 1, gridSeq: 512 },
  controls: [
    pow2Range('seq', 'seq', { from: 256, to: 4096, max: 16384 }),
    int('headDim', 'head_dim', 64, 'values per head'),
    int('nBuckets', 'buckets', 64, '1 or even'),
    int('nRounds', 'rounds', 4, 'hashings'),
    int('chunk', 'chunk', 64, 'positions per chunk'),
    int('naiveMax', 'naive up to', 2048, 'seq for naive and the exact reference'),
    int('repeats', 'repeats', 3, 'time is their median'),
    checkbox('clustered', 'clustered keys', true, 'else random'),
    checkbox('causal', 'causal', false, 'mask future positions'),
    int('gridSeq', 'error table seq', 1024, 'exact attention keeps seq² scores'),
    intList('gridBuckets', 'error table buckets', [2, 4, 8, 16, 32, 64]),
    intList('gridRounds', 'error table rounds', [1, 2, 4, 8]),
  ],

  run(v, core, onProgress) {
    const data = v.clustered ? 'clustered' : 'random';
    const points = [
      ...v.seq.map((seq) => ({
        label: `seq ${seq}`,
        kind: 'seq',
        fn: 'runLsh',
        config: {
          seq, headDim: v.headDim, heads: 1, nBuckets: v.nBuckets, nRounds: v.nRounds, chunk: v.chunk,
          causal: v.causal, data, clusterSize: 16, repeats: v.repeats, seed: 1,
          runExact: seq <= v.naiveMax, runNaive: seq <= v.naiveMax, runFlash: true,
        },
      })),
      {
        label: `error table at seq ${v.gridSeq}`,
        kind: 'errors',
        fn: 'runLshErrors',
        config: { seq: v.gridSeq, headDim: v.headDim, chunk: v.chunk, causal: v.causal, clusterSize: 16,
          buckets: v.gridBuckets, rounds: v.gridRounds, seed: 1 },
      },
    ];
    return runSweep(points, async (p) => (p.kind === 'seq'
      ? { kind: p.kind, ...(await core.call(p.fn, p.config)) }
      : { kind: p.kind, config: p.config, rows: await core.call(p.fn, p.config) }), onProgress);
  },

  async render(results, view, v) {
    const points = results.filter((r) => r.kind === 'seq');
    const grid = results.find((r) => r.kind === 'errors');
    const methods = [
      { key: 'lsh', label: `LSH (${v.nBuckets} buckets, ${v.nRounds} rounds, chunk ${v.chunk})` },
      { key: 'naive', label: 'naive attention' },
      { key: 'flash', label: 'flash attention' },
    ];
    const series = (pick) => methods.map((m) => ({
      label: m.label, color: colors[m.key],
      points: points.filter((r) => r[m.key].ran).map((r) => [r.config.seq, pick(r[m.key])]),
    }));
    if (points.length) {
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
    }
    if (grid) await this.renderGrid(grid, view);
    if (points.length) {
      const slopes = methods.map((m) => `${m.key} ${formatNumber(slope(points, m.key))}`).join(', ');
      view.table('lsh', {
        test: 'lsh-table',
        caption: `${points[0].config.data} keys, head_dim ${v.headDim}. Time ~ seq^k from the first to the last point: ${slopes}. Error: relative Frobenius ‖LSH − exact‖ / ‖exact‖ against exact shared-QK attention (up to seq ${v.naiveMax}).`,
        rows: points,
        columns: [
          { label: 'seq', value: (r) => r.config.seq },
          ...methods.map((m) => ({ group: 'time (ms)', label: m.key, value: (r) => (r[m.key].ran ? r[m.key].medianMs : NaN), format: formatMs })),
          ...methods.map((m) => ({
            group: 'peak heap', label: m.key, value: (r) => (r[m.key].ran ? r[m.key].peakBytes : NaN), format: formatBytes,
            attrs: m.key === 'lsh' ? (r) => ({ 'data-peak': String(r.lsh.peakBytes), 'data-scratch': String(r.scratchBytes) }) : undefined,
          })),
          { label: 'LSH error', value: (r) => r.relativeError, format: formatSci,
            attrs: (r) => ({ 'data-error': String(r.relativeError) }) },
        ],
      });
    }
    if (grid) this.gridTable(grid, view);
  },

  async renderGrid(grid, view) {
    const rounds = [...new Set(grid.rows.map((r) => r.nRounds))];
    const data = ['clustered', 'random'];
    await view.chart('errors', {
      title: `LSH error against exact attention at seq ${grid.config.seq}: clustered (solid) and random (dashed) keys`,
      mode: 'nearest',
      x: { label: 'buckets', log2: true, format: String },
      y: { label: 'relative error', log10: true, format: formatSci },
      series: data.flatMap((d) => rounds.map((n, i) => ({
        label: `${d}, ${n} round${n > 1 ? 's' : ''}`,
        color: roundColors[i % roundColors.length],
        dash: d === 'random' ? [6, 4] : [],
        points: grid.rows.filter((r) => r.data === d && r.nRounds === n).map((r) => [r.nBuckets, r.relativeError]),
      }))),
    });
  },

  gridTable(grid, view) {
    const rounds = [...new Set(grid.rows.map((r) => r.nRounds))];
    const buckets = [...new Set(grid.rows.map((r) => r.nBuckets))];
    const at = (d, b, n) => grid.rows.find((r) => r.data === d && r.nBuckets === b && r.nRounds === n);
    const cols = (d) => rounds.map((n) => ({
      group: `${d} keys: relative error`, label: `${n} round${n > 1 ? 's' : ''}`,
      value: (b) => at(d, b, n).relativeError, format: formatSci,
      attrs: (b) => ({ 'data-error': String(at(d, b, n).relativeError), 'data-data': d, 'data-rounds': String(n) }),
    }));
    view.table('errors', {
      test: 'error-table',
      caption: `seq ${grid.config.seq}, head_dim ${grid.config.headDim}, chunk ${grid.config.chunk}: relative Frobenius error of LSH against exact shared-QK attention, by buckets (rows) and rounds (columns).`,
      rows: buckets,
      columns: [{ label: 'buckets', value: (b) => b }, ...cols('clustered'), ...cols('random')],
    });
  },
};
