// Attention I/O bytes: what naive, flash and LSH attention move between slow memory and a
// fast memory of M bytes, counted in the kernels' tile loops (attention/io_bytes.hpp).
import { int, checkbox, pow2Range } from '../ui/controls.js';
import { formatBytes } from '../ui/format.js';
import { badge } from '../ui/table.js';
import { el } from '../ui/dom.js';
import { runSweep } from '../lib/sweep.js';

const methods = [
  { key: 'naive', label: 'naive forward', short: 'naive fwd', color: '#d9480f' },
  { key: 'naiveBackward', label: 'naive backward', short: 'naive bwd', color: '#d9480f', dash: [6, 4] },
  { key: 'flash', label: 'flash forward', short: 'flash fwd', color: '#1c7ed6' },
  { key: 'flashBackward', label: 'flash backward', short: 'flash bwd', color: '#1c7ed6', dash: [6, 4] },
  { key: 'lsh', label: 'LSH forward', short: 'LSH fwd', color: '#2b8a3e' },
];
// LSH attention's options here (the LSH section varies them): its chunks, not M, size its tiles.
const lsh = { lshBuckets: 8, lshRounds: 2, lshChunk: 64 };
const bytesOf = (c) => (c?.ran ? c.read + c.written : NaN);
const exact = (c) => !c?.ran || (c.read === c.formulaRead && c.written === c.formulaWritten);
const kib = (bytes) => formatBytes(bytes);

// naive does not depend on M: it runs once per seq (at the first M) and is shared.
function withNaive(results) {
  const naive = new Map();
  for (const r of results) if (r.naive.ran) naive.set(r.config.seq, r);
  return results.map((r) => {
    const n = naive.get(r.config.seq);
    return n ? { ...r, naive: n.naive, naiveBackward: n.naiveBackward } : r;
  });
}

const sliderState = new WeakMap(); // figure body -> { input, text, index }

export default {
  id: 'io-bytes',
  order: 14,
  title: 'Attention I/O bytes: slow memory ↔ fast memory',
  intro: `
    <p>On a GPU, attention's time goes into moving bytes between <b>slow memory</b> (HBM)
    and a small <b>fast memory</b> (SRAM, some 100–200 KiB per core) more than into
    arithmetic. Here each kernel <em>counts</em> those bytes in its own tile loops: a tile
    loaded into fast memory counts once, however often it is used there; every store
    back counts once. The counts equal closed forms exactly (the table checks it).</p>
    <p><b>Naive</b> attention writes <code>S</code> and <code>P</code> (<code>seq × seq</code>)
    to slow memory and reads them back: <code>Θ(N d + N²)</code> bytes per head whatever
    <code>M</code> is (Dao et al. 2022, Theorem 2). <b>Flash</b> never writes them, but
    re-reads one operand once per tile of the other: with tiles of
    <code>B = M / 4d</code> rows (four <code>B × d</code> tiles fill <code>M</code>) that
    is <code>N / B</code> passes of <code>N d</code>, <code>Θ(N² d² / M)</code> bytes. The
    dashed grey line is the forward's leading term <code>128 · N²d²/M</code> bytes
    (4 bytes × K and V × 16 d / M passes). Flash moves fewer bytes than naive once
    <code>M</code> is well above <code>d²</code> floats: drag the slider to see where.</p>
    <p>Backward passes: naive reads <code>P</code> and writes <code>dP</code> and
    <code>dS</code>; flash recomputes <code>P</code> tile by tile from <code>Q</code>,
    <code>K</code> and the logsumexp and keeps <code>dK</code>, <code>dV</code> of a K/V
    tile in fast memory until they are complete.</p>
    <p><b>LSH</b> attention (Reformer; 8 buckets, 2 rounds, chunks of 64) reads each
    position's row a few times per round — to hash it, then as a query and as a key of
    its chunk and the next — and never a <code>seq × seq</code> matrix: its bytes grow
    linearly in <code>seq</code>, whatever <code>M</code> is, at the price of attending
    only within buckets (see its section for the error this costs).</p>`,
  calls: ['runIoBytes'],  // counts bytes, times nothing: no warm-up
  controls: [
    pow2Range('seq', 'seq', { from: 128, to: 1024, max: 2048 }),
    pow2Range('fastKib', 'M (KiB)', { from: 8, to: 512, max: 4096 }),
    int('headDim', 'head_dim', 64, 'values per head'),
    int('heads', 'heads', 1, 'query heads'),
    int('kvHeads', 'kv_heads', 1, 'K/V heads; divides heads'),
    checkbox('causal', 'causal', false, 'mask future positions'),
  ],

  run(v, core, onProgress) {
    const points = v.seq.flatMap((seq) => v.fastKib.map((m, i) => ({
      label: `seq ${seq}, M ${m} KiB`,
      config: {
        seq, headDim: v.headDim, heads: v.heads, kvHeads: v.kvHeads, causal: v.causal,
        fastBytes: m * 1024, seed: 1, runNaive: i === 0, ...lsh,
      },
    })));
    return runSweep(points, (p) => core.call('runIoBytes', p.config), onProgress);
  },

  async render(partial, view) {
    const results = withNaive(partial);
    const ms = [...new Set(results.map((r) => r.config.fastBytes))].sort((a, b) => a - b);
    const seqs = [...new Set(results.map((r) => r.config.seq))].sort((a, b) => a - b);
    const largest = seqs[seqs.length - 1];

    // The slider picks the M of the chart of bytes vs seq; moving it redraws that
    // chart only. It comes first, across the width, so that both charts sit side by side.
    const body = view.figure('fast-memory', { title: 'Fast memory M of the chart “bytes moved vs seq”' });
    let state = sliderState.get(body);
    if (!state) {
      const input = el('input', { type: 'range', name: 'fastMemory', min: '0', step: '1', value: '0' });
      input.setAttribute('aria-label', 'fast memory M');
      const text = el('output', { className: 'slider-value' });
      body.append(el('label', { className: 'slider' }, input, text));
      state = { input, text, chosen: null, draw: null }; // chosen: the M the learner picked
      input.addEventListener('input', () => { state.chosen = state.ms[Number(input.value)]; state.draw?.(); });
      sliderState.set(body, state);
    }
    // Until the learner moves it, the slider stands at 128 KiB (about a GPU core's
    // SRAM) or the middle of the Ms measured so far.
    state.ms = ms;
    const preferred = ms.includes(state.chosen) ? state.chosen : 128 * 1024;
    const index = ms.includes(preferred) ? ms.indexOf(preferred) : Math.floor((ms.length - 1) / 2);
    state.input.max = String(ms.length - 1);
    state.input.value = String(index);
    state.draw = async () => {
      const m = ms[Number(state.input.value)];
      const first = results.find((r) => r.config.fastBytes === m);
      state.text.textContent = `M = ${kib(m)}: forward tiles ${first.forwardBlockQ} × ${first.forwardBlockKv}, backward ${first.backwardBlockQ} × ${first.backwardBlockKv}`;
      body.dataset.m = String(m);
      const at = results.filter((r) => r.config.fastBytes === m);
      await view.chart('by-seq', {
        title: `Bytes moved vs seq, M = ${kib(m)}`,
        x: { label: 'seq', log2: true, format: String },
        y: { label: 'bytes', log2: true, format: formatBytes },
        series: methods.map((s) => ({ ...s, points: at.map((r) => [r.config.seq, bytesOf(r[s.key])]) })),
      });
    };

    const atLargest = results.filter((r) => r.config.seq === largest);
    await view.chart('by-m', {
      title: `Bytes moved vs fast memory M, seq ${largest}`,
      x: { label: 'M', log2: true, format: kib },
      y: { label: 'bytes', log2: true, format: formatBytes },
      series: [
        ...methods.map((m) => ({ ...m, points: atLargest.map((r) => [r.config.fastBytes, bytesOf(r[m.key])]) })),
        { label: '128 · N²d²/M', color: '#868e96', dash: [2, 3], points: atLargest.map((r) => [r.config.fastBytes, 128 * r.n2d2OverM]) },
      ],
    });
    await state.draw();

    view.table('io', {
      test: 'io-table',
      rows: results,
      columns: [
        { label: 'seq', value: (r) => r.config.seq },
        { label: 'M', value: (r) => r.config.fastBytes, format: kib },
        { label: 'tiles fwd / bwd', value: (r) => `${r.forwardBlockQ}×${r.forwardBlockKv} / ${r.backwardBlockQ}×${r.backwardBlockKv}` },
        ...methods.map((m) => ({ group: 'bytes moved', label: m.short, value: (r) => bytesOf(r[m.key]), format: formatBytes })),
        {
          label: '= closed form',
          value: (r) => methods.every((m) => exact(r[m.key])),
          format: (ok) => (ok ? badge('exact', 'ok') : badge('differs', 'bad')),
          attrs: (r) => ({
            'data-exact': String(methods.every((m) => exact(r[m.key]))),
            'data-flash': String(bytesOf(r.flash)),
            'data-naive': String(bytesOf(r.naive)),
            'data-lsh': String(bytesOf(r.lsh)),
          }),
        },
      ],
    });
  },
};
