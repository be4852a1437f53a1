// Paged KV cache: vLLM's blocks against contiguous max-length caches, on a seeded
// stream of requests served from the same KV memory. The simulator and every
// figure are core's (serving.hpp); this file draws them.
import { checkbox, int, intList } from '../ui/controls.js';
import { formatBytes, formatNumber } from '../ui/format.js';
import { runSweep } from '../lib/sweep.js';
import { renderStepPlayer } from '../ui/step-player.js';
import { svg } from '../ui/dom.js';

const servers = [
  { key: 'static', label: 'static, contiguous', color: '#d9480f' },
  { key: 'continuousContiguous', label: 'continuous, contiguous', color: '#7048e8' },
  { key: 'paged', label: 'continuous, paged', color: '#1c7ed6' },
];
const percent = (x) => `${(100 * x).toFixed(x < 0.1 ? 2 : 1)}%`;
const stepAxis = { label: 'step', format: (s) => String(Math.round(s)) };

/** The small run the pool picture steps through: 32 blocks of 4 tokens, 8 shared system-prompt tokens (seed 2: 4 preemptions). */
export const pictureConfig = {
  stream: { requests: 12, rate: 0.6, promptMean: 6, promptSigma: 0.5, outputMean: 14, outputSigma: 0.5,
    maxSeq: 32, sharedPrefix: 8, seed: 2 },
  budget: 128, blockSize: 4, maxBatch: 256, watermark: 0.01, preemption: 'recompute',
  kvBytesPerToken: 819200, runContiguous: false, check: true,
};

// Twelve hues; request id i takes hue (5 i mod 12), so consecutive requests differ.
const hues = [0, 28, 52, 95, 140, 172, 196, 218, 245, 275, 300, 330];
/** A request's colour at the given HSL lightness (%). */
export function requestColor(id, lightness = 50) {
  return `hsl(${hues[(id * 5) % hues.length]}, 70%, ${lightness}%)`;
}

/** Draws snapshot `s` (block size `bs`; tables up to `entries` long) into the svg element. */
function drawPool(box, s, bs, entries) {
  const blocks = s.owner.length;
  const cols = 8, cell = { w: 64, h: 44, gap: 8 };
  const rows = Math.ceil(blocks / cols);
  const tableX = cols * (cell.w + cell.gap) + 30;
  const rowH = 24;
  const height = Math.max(30 + rows * (cell.h + cell.gap), 30 + Math.max(1, s.sequences.length) * rowH) + 40;
  box.setAttribute('viewBox', `0 0 ${tableX + 180 + 30 * entries} ${height}`);
  box.replaceChildren();
  box.append(svg('text', { x: 0, y: 14, class: 'pool-heading' }, `Physical blocks (${blocks} × ${bs} token slots)`));
  for (let b = 0; b < blocks; b++) {
    const x = (b % cols) * (cell.w + cell.gap), y = 24 + Math.floor(b / cols) * (cell.h + cell.gap);
    const owner = s.owner[b], shared = s.refcount[b] > 1;
    const g = svg('g', { 'data-block': b, 'data-owner': owner, 'data-refcount': s.refcount[b] });
    g.append(svg('rect', { x, y, width: cell.w, height: cell.h, rx: 4,
      fill: owner < 0 ? '#f1f3f5' : requestColor(owner, 90),
      stroke: shared ? '#1d2126' : owner < 0 ? '#ced4da' : requestColor(owner, 45),
      'stroke-width': shared ? 3 : 1 }));
    // One bar per token slot: filled slots in the owner's colour.
    const slotW = (cell.w - 8) / bs;
    for (let i = 0; i < bs; i++)
      g.append(svg('rect', { x: x + 4 + i * slotW + 1, y: y + 18, width: Math.max(1, slotW - 2), height: cell.h - 22,
        fill: i < s.filled[b] ? requestColor(owner, 50) : 'none',
        stroke: owner < 0 ? '#dee2e6' : requestColor(owner, 70), 'stroke-width': 1 }));
    g.append(svg('text', { x: x + 4, y: y + 13, class: 'pool-label' }, `${b}`));
    if (owner >= 0)
      g.append(svg('text', { x: x + cell.w - 4, y: y + 13, class: 'pool-label pool-owner' },
        shared ? `×${s.refcount[b]}` : `r${owner}`));
    box.append(g);
  }
  box.append(svg('text', { x: tableX, y: 14, class: 'pool-heading' }, 'Block tables (logical → physical)'));
  s.sequences.forEach((q, row) => {
    const y = 24 + row * rowH;
    const g = svg('g', { 'data-sequence': q.id });
    g.append(svg('rect', { x: tableX, y: y + 3, width: 12, height: 12, fill: requestColor(q.id) }));
    g.append(svg('text', { x: tableX + 18, y: y + 14, class: 'pool-label' },
      `r${q.id}: ${q.length} tokens, ${q.produced}/${q.output} out`));
    q.table.forEach((b, i) => {
      const x = tableX + 180 + i * 30;
      const shared = s.refcount[b] > 1;
      g.append(svg('rect', { x, y, width: 26, height: 18, rx: 3, fill: requestColor(s.owner[b], 85),
        stroke: shared ? '#1d2126' : requestColor(s.owner[b], 45), 'stroke-width': shared ? 2.5 : 1 }));
      g.append(svg('text', { x: x + 13, y: y + 13, class: 'pool-label pool-entry' }, `${b}`));
    });
    box.append(g);
  });
  const f = s.slots;
  const waste = f.allocated ? (f.allocated - f.used) / f.allocated : 0;
  box.append(svg('text', { x: 0, y: height - 10, class: 'pool-status' },
    `step ${s.step}: ${s.sequences.length} running, ${s.waiting.length} waiting` +
    `${s.waiting.length ? ` (r${[...s.waiting].join(', r')})` : ''}; ` +
    `${f.blocks} blocks in use, ${f.sharedBlocks} shared; ${f.used} of ${f.allocated} slots used ` +
    `(waste ${percent(waste)})${s.preemptions ? `; ${s.preemptions} preempted` : ''}`));
}

/** The animated pool (ui/step-player.js) over the simulator's snapshots, a step every 0.3 s. */
function renderPool(body, snapshots, bs) {
  const entries = Math.max(1, ...snapshots.flatMap((s) => s.sequences.map((q) => q.table.length)));
  renderStepPlayer(body, {
    data: snapshots, count: snapshots.length, label: 'simulator step', intervalMs: 300,
    draw: (picture, step) => {
      drawPool(picture, snapshots[step], bs, entries);
      picture.setAttribute('aria-label', picture.lastChild.textContent);
    },
  });
}

export default {
  id: 'paged-kv-cache',
  order: 35,
  title: 'Paged KV cache',
  intro: `
    <p>A server holds the KV cache of every request it is generating. The simple way
    reserves <b>max_seq</b> positions per request up front (one contiguous buffer), but a
    request rarely reaches max_seq and nobody knows in advance how long it will run: most
    of the reservation stays empty. vLLM's <b>PagedAttention</b> manages KV memory like
    virtual memory: a pool of fixed-size <b>blocks</b> (e.g. 16 tokens), allocated one at a
    time as a sequence grows, and a per-sequence <b>block table</b> that attention reads
    through. The only waste is the unused tail of each sequence's last block. Blocks are
    reference-counted, so requests with the same system prompt <b>share</b> its blocks,
    and a fork (parallel sampling, beam search) shares everything until one branch writes
    (<b>copy-on-write</b>).</p>
    <p>Less waste means more sequences at once in the same memory. Below, one seeded stream
    of requests (Poisson arrivals; log-normal prompt and output lengths with the ShareGPT
    means of the vLLM paper, 161 and 338 tokens) is served from the same KV memory by three
    servers: <b>static batching</b> (a batch runs until its longest request ends),
    <b>continuous batching</b> (a finished request's place is refilled at the next step)
    with contiguous max-length caches, and continuous batching over the <b>paged</b>
    pool, which preempts the newest request (and recomputes it later) when blocks run out.
    A step is one forward pass: one token for every running sequence. The model is not run,
    but the memory accounting is the real block pool's, exact; bytes are for OPT-13B in fp16
    (800 KB per token, so 16,384 slots are 12.5 GiB, about what an A100-40GB has left for the
    cache next to the weights).</p>`,
  controls: [
    int('requests', 'requests', 200, 'in the stream'),
    int('rate', 'arrivals / 100 steps', 25, 'Poisson'),
    int('budget', 'KV budget', 16384, 'token slots, all servers'),
    int('block', 'block size', 16, 'tokens per block (paged)'),
    int('maxSeq', 'max_seq', 1024, 'contiguous reservation'),
    int('sharedPrefix', 'shared prefix', 0, 'system-prompt tokens'),
    intList('blocks', 'block sizes', [1, 2, 4, 8, 16, 32, 64, 128, 256], 'for the waste chart'),
    checkbox('swap', 'swap', false, 'preempt by swapping, not recompute'),
  ],
  calls: ['runServing', 'pagedSnapshots'], // exact figures, nothing timed: no warm-up

  run(v, core, onProgress) {
    const config = (blockSize, runContiguous) => ({
      stream: { requests: v.requests, rate: v.rate / 100, promptMean: 161, promptSigma: 1, outputMean: 338,
        outputSigma: 1, maxSeq: v.maxSeq, sharedPrefix: v.sharedPrefix, seed: 1 },
      budget: v.budget, blockSize, maxBatch: 256, watermark: 0.01, preemption: v.swap ? 'swap' : 'recompute',
      kvBytesPerToken: 819200, runContiguous, check: false,
    });
    const points = [
      { label: 'pool picture (32 blocks of 4 tokens)', kind: 'picture' },
      { label: `three servers, block ${v.block}`, kind: 'servers' },
      ...v.blocks.map((b) => ({ label: `paged, block ${b}`, kind: 'sweep', block: b })),
    ];
    return runSweep(points, async (p) => {
      if (p.kind === 'picture') return { kind: p.kind, snapshots: await core.call('pagedSnapshots', pictureConfig) };
      if (p.kind === 'servers') return { kind: p.kind, ...(await core.call('runServing', config(v.block, true), 200)) };
      return { kind: p.kind, block: p.block, ...(await core.call('runServing', config(p.block, false), 1)) };
    }, onProgress);
  },

  async render(results, view, v) {
    const picture = results.find((r) => r.kind === 'picture');
    const main = results.find((r) => r.kind === 'servers');
    const sweep = results.filter((r) => r.kind === 'sweep');

    if (picture) {
      const body = view.figure('pool', {
        title: 'The pool, step by step: 12 requests sharing an 8-token system prompt (shared blocks: thick border, ×refcount)',
      });
      renderPool(body, picture.snapshots, pictureConfig.blockSize);
    }
    if (sweep.length) {
      const xs = sweep.map((r) => r.block);
      const flat = (key) => (main?.[key] ? [[Math.min(...xs), main[key].waste], [Math.max(...xs), main[key].waste]] : []);
      await view.chart('waste', {
        title: 'KV memory wasted vs block size (reserved but not holding a live token)',
        mode: 'nearest',
        x: { label: 'block size (tokens)', log2: true, format: String },
        y: { label: 'waste', format: (w) => `${Math.round(100 * w)}%` },
        series: [
          { label: 'paged', color: servers[2].color, points: sweep.map((r) => [r.block, r.paged.waste]) },
          { label: 'contiguous, continuous', color: servers[1].color, points: flat('continuousContiguous'),
            style: { borderDash: [6, 4], pointRadius: 0 } },
          { label: 'contiguous, static', color: servers[0].color, points: flat('static'),
            style: { borderDash: [2, 3], pointRadius: 0 } },
        ],
      });
    }
    if (main) {
      const timeline = (key, y) => main[key].timeline.map((p) => [p.step, y(p)]);
      const byServer = (y, style = {}) => servers.map((s) => ({ label: s.label, color: s.color,
        points: timeline(s.key, y), style: { pointRadius: 0, borderWidth: 1.5, ...style } }));
      await view.chart('concurrency', {
        title: `Concurrent sequences over time (block ${v.block})`,
        mode: 'nearest',
        x: stepAxis,
        y: { label: 'running sequences', format: formatNumber },
        series: byServer((p) => p.running),
      });
      await view.chart('throughput', {
        title: 'Tokens produced so far (the slope is the throughput)',
        mode: 'nearest',
        x: stepAxis,
        y: { label: 'tokens', format: formatNumber },
        series: byServer((p) => p.tokensSoFar),
      });
      const bytes = main.config.kvBytesPerToken;
      await view.chart('memory', {
        title: 'KV memory allocated (solid) and wasted (dashed)',
        mode: 'nearest',
        x: stepAxis,
        y: { label: 'bytes (OPT-13B, fp16)', format: formatBytes },
        series: [
          ...byServer((p) => p.allocated * bytes),
          ...byServer((p) => p.wasted * bytes, { borderDash: [5, 4] }).map((s) => ({ ...s, label: `${s.label}, wasted` })),
        ],
      });
      this.table(main, view);
    }
  },

  table(main, view) {
    const share = (s, key) => (s.allocatedSlotSteps ? s[key] / s.allocatedSlotSteps : 0);
    const bytes = main.config.kvBytesPerToken;
    view.table('servers', {
      test: 'paged-table',
      caption: `${main.requests} requests, ${formatNumber(main.outputTokens)} output tokens (mean prompt ` +
        `${formatNumber(main.meanPrompt)}, output ${formatNumber(main.meanOutput)}), the last arriving at step ` +
        `${main.lastArrival}; KV budget ${main.config.budget} token slots (${formatBytes(main.config.budget * bytes)}). ` +
        `Paged vs static batching: ${main.throughputGain.toFixed(2)}× tokens per step, ` +
        `${main.concurrencyGain.toFixed(2)}× concurrent sequences; vs continuous contiguous ${main.pagingGain.toFixed(2)}×. ` +
        'Waste = 1 − used / allocated slots over all steps: reserved (empty, to be filled), fragmentation ' +
        '(empty, never filled), idle (held by finished requests). vLLM reports under 4% waste with paging; ' +
        'the simulator counts it exactly. Peak: KV memory allocated at most. Preempt.: preemptions. ' +
        'Latency: steps from arrival to the last token, per output token.',
      rows: servers.map((s) => ({ ...s, f: main[s.key] })),
      columns: [
        { label: 'server', value: (r) => r.label, numeric: false },
        { label: 'tok / step', value: (r) => r.f.tokensPerStep, format: formatNumber,
          attrs: (r) => ({ 'data-tokens-per-step': String(r.f.tokensPerStep) }) },
        { group: 'running', label: 'mean', value: (r) => r.f.meanRunning, format: formatNumber,
          attrs: (r) => ({ 'data-mean-running': String(r.f.meanRunning) }) },
        { group: 'running', label: 'max', value: (r) => r.f.maxRunning },
        { group: 'KV memory wasted', label: 'total', value: (r) => r.f.waste, format: percent,
          attrs: (r) => ({ 'data-waste': String(r.f.waste) }) },
        { group: 'KV memory wasted', label: 'reserved', value: (r) => share(r.f, 'reservationSlotSteps'), format: percent },
        { group: 'KV memory wasted', label: 'fragm.', value: (r) => share(r.f, 'fragmentationSlotSteps'), format: percent },
        { group: 'KV memory wasted', label: 'idle', value: (r) => share(r.f, 'idleSlotSteps'), format: percent },
        { label: 'peak', value: (r) => r.f.peakAllocated * bytes, format: formatBytes },
        { label: 'preempt.', value: (r) => r.f.preemptions },
        { label: 'latency', value: (r) => r.f.meanNormalizedLatency, format: formatNumber },
      ],
    });
  },
};
