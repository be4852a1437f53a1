// Flash attention step by step: the online softmax of one small head, one
// (Q tile, K/V tile) pair per step. Every number drawn is core's
// (attention/flash_trace.hpp, a traced run); this file only lays them out.
import { checkbox, int } from '../ui/controls.js';
import { formatSci } from '../ui/format.js';
import { runSweep } from '../lib/sweep.js';
import { renderStepPlayer } from '../ui/step-player.js';
import { svg } from '../ui/dom.js';

/** A state as the picture prints it: 3 decimals, −∞ for a masked score or an unset max. */
export function formatState(x) {
  if (x === -Infinity) return '−∞';
  const text = x.toFixed(3);
  return text === '-0.000' ? '0.000' : text.replace('-', '−');
}

const colors = { tile: '#1c7ed6', done: '#d0ebff', seen: '#fff3bf', masked: '#f1f3f5', grid: '#ced4da' };
const cell = { w: 54, h: 20 }; // a number in the tables

/** Draws a table of numbers: `header` cells over `rows`, each a list of { text, attrs }. */
function numberTable(box, x, y, header, rows, { fill } = {}) {
  header.forEach((h, c) => box.append(svg('text', { x: x + (c + 1) * cell.w - 4, y, class: 'steps-head' }, h)));
  rows.forEach((row, r) => {
    const ry = y + (r + 1) * cell.h;
    if (fill?.[r]) box.append(svg('rect', { x, y: ry - 14, width: row.length * cell.w, height: cell.h - 2, fill: fill[r] }));
    row.forEach((v, c) => box.append(svg('text', { x: x + (c + 1) * cell.w - 4, y: ry, class: 'steps-num', ...v.attrs }, v.text)));
  });
  return y + (rows.length + 1) * cell.h;
}

/** One step of the trace `t` drawn into the svg element. */
function drawStep(box, t, index) {
  const { seq, headDim: d } = t.config;
  const st = t.steps[index];
  const range = (n) => Array.from({ length: n }, (_, i) => i);
  const num = (x, attrs) => ({ text: formatState(x), attrs });
  box.replaceChildren();

  // -- the current tile, row by row: S, the running max, α, P, the running sum, O / l
  box.append(svg('text', { x: 0, y: 14, class: 'pool-heading' },
    `Step ${index + 1}: Q tile ${st.qTile} (rows ${st.qBegin}–${st.qBegin + st.rows - 1}) × ` +
    `K/V tile ${st.kvTile} (keys ${st.kvBegin}–${st.kvBegin + st.cols - 1}), scale = 1/√${d} = ${formatState(t.scale)}`));
  const header = ['row', ...range(st.cols).map((c) => `S·${st.kvBegin + c}`), 'm old', 'm new', 'α',
    ...range(st.cols).map((c) => `P·${st.kvBegin + c}`), 'l old', 'l new', ...range(d).map((e) => `O/l·${e}`)];
  const rows = range(st.rows).map((r) => [
    { text: String(st.qBegin + r) },
    ...range(st.cols).map((c) => num(st.scores[r * st.cols + c])),
    num(st.mOld[r]), num(st.mNew[r]),
    num(st.rescale[r], { 'data-rescale': String(st.rescale[r]), class: `steps-num${st.rescale[r] < 1 ? ' steps-rescaled' : ''}` }),
    ...range(st.cols).map((c) => num(st.probs[r * st.cols + c])),
    num(st.lOld[r]), num(st.lNew[r]),
    ...range(d).map((e) => num(st.out[r * d + e])),
  ]);
  const tableEnd = numberTable(box, -cell.w + 28, 40, header, rows);
  box.append(svg('text', { x: 0, y: tableEnd + 4, class: 'pool-status' },
    'm new = max(m old, max S),  α = exp(m old − m new),  P = exp(S − m new),  l new = α · l old + Σ P,  ' +
    'O = α · O + P V'));
  box.append(svg('text', { x: 0, y: tableEnd + 22, class: 'pool-status' },
    st.last ? `The Q tile's last K/V tile: O / l is final for rows ${st.qBegin}–${st.qBegin + st.rows - 1}.`
      : 'O / l so far is attention over the keys seen so far; α < 1 (orange) rescales what was summed with an older max.'));

  // -- the seq × seq scores: tiles done, the current one, masked keys
  const top = tableEnd + 56, grid = Math.min(240, 20 * seq), g = grid / seq;
  box.append(svg('text', { x: 0, y: top, class: 'pool-heading' }, 'S = Q Kᵀ · scale, by tiles'));
  box.append(svg('text', { x: 0, y: top + 16, class: 'pool-label' }, 'rows: queries, columns: keys'));
  const gy = top + 40;
  const done = t.steps.slice(0, index);
  for (let i = 0; i < seq; i++)
    for (let j = 0; j < seq; j++) {
      const masked = t.config.causal && j > i;
      const inTile = (s) => i >= s.qBegin && i < s.qBegin + s.rows && j >= s.kvBegin && j < s.kvBegin + s.cols;
      const fill = masked ? colors.masked : inTile(st) ? colors.seen : done.some(inTile) ? colors.done : '#fff';
      box.append(svg('rect', { x: j * g, y: gy + i * g, width: g, height: g, fill, stroke: colors.grid, 'stroke-width': 0.5 }));
    }
  box.append(svg('rect', { x: st.kvBegin * g, y: gy + st.qBegin * g, width: st.cols * g, height: st.rows * g,
    fill: 'none', stroke: colors.tile, 'stroke-width': 3, 'data-current-tile': `${st.qTile},${st.kvTile}` }));
  [['tiles done', colors.done], ['this tile', colors.seen], ['masked', colors.masked]].forEach(([text, fill], k) => {
    box.append(svg('rect', { x: 0, y: gy + grid + 12 + 18 * k, width: 12, height: 12, fill, stroke: colors.grid }));
    box.append(svg('text', { x: 18, y: gy + grid + 22 + 18 * k, class: 'pool-label' }, text));
  });

  // -- the output: rows finished so far beside naive attention's
  const finished = new Set(t.steps.slice(0, index + 1).filter((s) => s.last)
    .flatMap((s) => range(s.rows).map((r) => s.qBegin + r)));
  const complete = finished.size === seq;
  const ox = grid + 50, outW = (d + 1) * cell.w + 30;
  box.append(svg('text', { x: ox, y: top, class: 'pool-heading' },
    complete ? `All ${seq} rows done: flash's output equals the naive softmax's (max |difference| ${formatSci(t.maxAbsDiff)})`
      : `Output rows finished: ${finished.size} of ${seq}`));
  box.append(svg('text', { x: ox, y: top + 16, class: 'pool-label' }, 'flash, tile by tile'));
  box.append(svg('text', { x: ox + outW, y: top + 16, class: 'pool-label' }, 'naive: softmax(S) V with S whole'));
  const outRows = (values, name) => range(seq).map((i) => [{ text: String(i) }, ...range(d).map((e) =>
    (name === 'naive' || finished.has(i) ? num(values[i * d + e], { [`data-${name}`]: String(values[i * d + e]) }) : { text: '·' }))]);
  const outHeader = ['row', ...range(d).map((e) => `O·${e}`)];
  const band = range(seq).map((i) => (i >= st.qBegin && i < st.qBegin + st.rows ? colors.seen : null));
  const flashBox = svg('g', { 'data-output': 'flash' }), naiveBox = svg('g', { 'data-output': 'naive' });
  box.append(flashBox, naiveBox);
  const end = numberTable(flashBox, ox - cell.w + 28, top + 36, outHeader, outRows(t.out, 'flash'), { fill: band });
  numberTable(naiveBox, ox + outW - cell.w + 28, top + 36, outHeader, outRows(t.naiveOut, 'naive'), { fill: band });

  const width = Math.max(header.length * cell.w, ox + 2 * outW, 640);
  box.setAttribute('viewBox', `0 0 ${width} ${Math.max(end, gy + grid + 70) + 10}`);
  box.setAttribute('aria-label', `step ${index + 1} of ${t.steps.length}: Q tile ${st.qTile} × K/V tile ${st.kvTile}` +
    `${complete ? '; all rows equal naive attention' : ''}`);
}

/** The step-through (ui/step-player.js) over the trace's steps, a step every 1.2 s. */
function renderSteps(body, trace) {
  const style = svg('style', {}, `
    .steps-svg .steps-num, .steps-svg .steps-head { text-anchor: end; }
    .steps-svg .steps-head { font-weight: 600; fill: #495057; }
    .steps-svg .steps-rescaled { font-weight: 700; fill: #d9480f; }`);
  renderStepPlayer(body, {
    data: trace, count: trace.steps.length, label: 'flash attention step',
    className: 'pool-svg steps-svg', intervalMs: 1200,
    draw: (picture, step) => { drawStep(picture, trace, step); picture.prepend(style); },
  });
}

export default {
  id: 'flash-steps',
  order: 11,
  title: 'Flash attention step by step: the online softmax',
  intro: `
    <p>Flash attention never holds a row of scores whole. It cuts <code>Q</code> into tiles of
    <b>block_q</b> rows and <code>K</code>, <code>V</code> into tiles of <b>block_kv</b> keys, and
    streams the K/V tiles past each Q tile. A softmax needs the row's maximum and sum, which
    are only known at the end of the row, so each row keeps a <b>running max</b>
    <code>m</code>, a <b>running sum</b> <code>l</code> of <code>exp(S − m)</code> and an
    unnormalised output <code>O</code>. When a new tile raises the max, everything summed so
    far was exponentiated with the old one: multiplying it by
    <code>α = exp(m_old − m_new)</code> fixes that exactly
    (<code>e^(S − m_old) · e^(m_old − m_new) = e^(S − m_new)</code>). After the last tile,
    <code>O / l</code> is exactly <code>softmax(S) V</code>.</p>
    <p>Below, one head of seeded random <code>q</code>, <code>k</code>, <code>v</code> runs
    through core's traced flash forward; every step is one (Q tile, K/V tile) pair: its
    scores, each row's <code>m</code>, <code>α</code>, <code>P = exp(S − m)</code>,
    <code>l</code> and <code>O / l</code> so far. At the last step the output is compared
    with naive attention's (which builds the whole <code>seq × seq</code> matrix). With
    <b>causal</b> masking the tiles above the diagonal are skipped.</p>`,
  controls: [
    int('seq', 'seq', 12, 'queries and keys, at most 64'),
    int('headDim', 'head_dim', 4, 'values per head, at most 16'),
    int('blockQ', 'block_q', 4, 'query rows per tile'),
    int('blockKv', 'block_kv', 4, 'keys per tile'),
    checkbox('causal', 'causal', false, 'mask future keys'),
    int('seed', 'seed', 1, 'of q, k, v'),
  ],
  calls: ['runFlashTrace'],
  warmUp: [], // exact states, nothing timed: no warm-up

  run(v, core, onProgress) {
    const config = { seq: v.seq, headDim: v.headDim, blockQ: v.blockQ, blockKv: v.blockKv, causal: v.causal, seed: v.seed };
    return runSweep([{ label: 'traced flash forward', config }], (p) => core.call('runFlashTrace', p.config), onProgress);
  },

  render(results, view) {
    const trace = results[0];
    if (!trace) return;
    const { seq, headDim, blockQ, blockKv, causal } = trace.config;
    const body = view.figure('steps', {
      title: `seq ${seq}, head_dim ${headDim}, tiles of ${blockQ} query rows × ${blockKv} keys` +
        `${causal ? ', causal' : ''}: ${trace.steps.length} steps`,
    });
    renderSteps(body, trace);
  },
};
