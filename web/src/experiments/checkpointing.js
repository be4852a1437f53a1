// Checkpointing: activation memory against recomputation, one training step's
// memory timeline, training the tiny GPT in the worker, and LoRA/QLoRA memory.
import corpus from '../../../data/corpus.txt?raw';
import { int, intList, text } from '../ui/controls.js';
import { formatBytes, formatMs, formatNumber } from '../ui/format.js';
import { palette } from '../ui/charts.js';
import { runSweep } from '../lib/sweep.js';

const colorOf = (policies, p) => palette[policies.indexOf(p) % palette.length];
const printable = (bytes) => bytes.map((b) => (b >= 32 && b < 127 ? String.fromCharCode(b) : b === 10 ? '\n' : '·')).join('');

export default {
  id: 'checkpointing',
  order: 50,
  title: 'Checkpointing',
  intro: `
    <p>Training keeps every layer's activations from the forward pass until the
    backward pass uses them: memory grows with the number of layers. <b>Activation
    checkpointing</b> keeps only the inputs of a few layers (the checkpoints) and, in
    the backward pass, re-runs each segment's forward from its checkpoint just before
    back-propagating through it. With segments of √n layers (Chen et al. 2016) the
    peak is O(√n) for about one extra forward pass. Gradients are bitwise the same —
    the recomputation repeats the same arithmetic on the same inputs.</p>
    <p>The stack here is n residual MLP blocks, <code>x += gelu(x·W1)·W2</code>, with a
    hand-written backward. Peak bytes are the tracker's exact count and equal the
    formula of <code>train/checkpoint.hpp</code>: with a = 4·batch·width and
    h = 4·batch·hidden, none peaks at (n+1)(a+h), √n at 16 layers at 8a + 5h.
    Policies: <code>none</code>, <code>sqrt</code>, <code>every:K</code>,
    <code>set:I,J,…</code>. The timeline shows live bytes during one step: without
    checkpoints a ramp up and down; with them a sawtooth.</p>
    <p>Below it the tiny byte-level GPT trains in the worker (AdamW, hand-written
    backward with naive attention) on a short text shipped with memlab, and LoRA/QLoRA
    compare the memory of fine-tuning low-rank adapters over a frozen (4-bit NF4)
    base with full fine-tuning.</p>`,
  controls: [
    intList('layers', 'layers', [4, 8, 16, 32], 'stack depths n'),
    text('policies', 'policies', 'none, every:2, sqrt', 'none, sqrt, every:K, set:I,J'),
    int('width', 'width', 64, 'd'),
    int('hidden', 'hidden', 256, 'f'),
    int('batch', 'batch', 16, 'rows'),
    int('timelineLayers', 'timeline layers', 16, 'n of the timeline plot'),
    int('trainSteps', 'training steps', 60, 'tiny GPT steps; 0: skip'),
    int('rank', 'LoRA rank', 8, 'adapter rank'),
  ],
  calls: ['runCheckpoint', 'runTraining', 'runLora'],
  warmUp: [{ fn: 'runCheckpoint', args: [{ layers: 4, batch: 16, width: 64, hidden: 256, policy: 'sqrt', repeats: 1, timeline: false }] }],

  async run(v, core, onProgress) {
    const policies = v.policies.split(/,?\s+/).filter(Boolean); // set:1,5 keeps its commas
    const base = { batch: v.batch, width: v.width, hidden: v.hidden, repeats: 3, timeline: false };
    const points = [];
    for (const layers of v.layers)
      for (const policy of policies) points.push({ label: `${layers} layers, ${policy}`, kind: 'policy', layers, policy });
    for (const policy of ['none', 'sqrt'])
      points.push({ label: `timeline, ${policy}`, kind: 'timeline', layers: v.timelineLayers, policy });
    points.push({ label: 'LoRA / QLoRA memory', kind: 'lora' });
    const model = { layers: 4, dModel: 128, heads: 4, kvHeads: 4, dFf: 512, maxSeq: 512, tied: true };
    const steps = v.trainSteps;
    const total = points.length + steps;
    const results = await runSweep(points, async (p) => {
      if (p.kind === 'lora') {
        const config = { model, rank: v.rank, alpha: 2 * v.rank, steps: 0, batch: 4, seq: 32, text: '' };
        return { kind: 'lora', rows: await core.call('runLora', config) };
      }
      const figures = await core.call('runCheckpoint', { ...base, layers: p.layers, policy: p.policy, timeline: p.kind === 'timeline' });
      return { kind: p.kind, layers: p.layers, policy: p.policy, figures };
    }, ({ done, label, results: partial }) => onProgress({ done, total, label, results: partial }));
    if (steps > 0) {
      const losses = [];
      const config = {
        model: { layers: 2, dModel: 32, heads: 4, kvHeads: 4, dFf: 128, maxSeq: 64, tied: true },
        steps, batch: 4, seq: 32, lr: 0.01, seed: 1, text: corpus, prompt: 'The ',
        // temperature 0.8 from the 20 likeliest bytes: greedy decoding of a
        // barely trained model repeats one byte
        sampleTokens: 120, sampler: { temperature: 0.8, topK: 20, seed: 1 },
      };
      const figures = await core.callWithProgress('runTraining', [config], ({ step, loss }) => {
        losses.push({ kind: 'loss', step, loss });
        if (step % 5 && step !== steps) return; // redraw every fifth step
        onProgress({ done: points.length + step, total, label: `training: step ${step} / ${steps}, loss ${loss.toFixed(3)}`,
          results: [...results, ...losses] });
      });
      results.push(...losses, { kind: 'training', figures });
    }
    return results;
  },

  async render(results, view) {
    const runs = results.filter((r) => r.kind === 'policy');
    const policies = [...new Set(runs.map((r) => r.policy))];
    const layers = [...new Set(runs.map((r) => r.layers))];
    const series = (value) => policies.map((p) => ({
      label: p, color: colorOf(policies, p),
      points: runs.filter((r) => r.policy === p).map((r) => [r.layers, value(r)]),
    }));
    if (runs.length) {
      await view.chart('peak', {
        title: 'Peak activation memory of one training step',
        x: { label: 'layers', log2: true, format: String },
        y: { label: 'bytes', log2: true, format: formatBytes },
        series: series((r) => r.figures.peakBytes),
      });
      await view.chart('time', {
        title: 'Step time (forward + backward)',
        x: { label: 'layers', log2: true, format: String },
        y: { label: 'ms', log2: true, format: formatMs },
        series: series((r) => r.figures.stepMs),
      });
    }
    const timelines = results.filter((r) => r.kind === 'timeline');
    if (timelines.length)
      await view.chart('timeline', {
        title: `Live bytes during one step, ${timelines[0].layers} layers (backward starts at the peak of "none")`,
        x: { label: 'ms', format: (x) => x.toFixed(1) },
        y: { label: 'live bytes', format: formatBytes },
        mode: 'nearest',
        series: timelines.map((t, i) => ({
          label: `${t.policy}: peak ${formatBytes(t.figures.peakBytes)}`, color: palette[i],
          points: t.figures.timeline, style: { pointRadius: 0, stepped: true },
        })),
      });
    const losses = results.filter((r) => r.kind === 'loss');
    if (losses.length)
      await view.chart('loss', {
        title: 'Training loss of the tiny GPT (nats per byte)',
        x: { label: 'step', format: String },
        y: { label: 'loss', format: (x) => x.toFixed(2) },
        series: [{ label: 'training loss', color: palette[1], points: losses.map((l) => [l.step, l.loss]) }],
      });
    const training = results.find((r) => r.kind === 'training');
    if (training)
      view.text('sample', {
        title: `Sample after training (temperature 0.8, top 20) (${formatNumber(training.figures.parameters)} parameters, eval loss ${training.figures.initialEvalLoss.toFixed(2)} → ${training.figures.finalEvalLoss.toFixed(2)})`,
        content: printable(training.figures.sample),
      });
    if (runs.length) {
      const n = Math.max(...layers);
      const at = runs.filter((r) => r.layers === n);
      const none = at.find((r) => r.policy === 'none')?.figures;
      view.table('policies', {
        test: 'checkpoint-table',
        rows: at,
        columns: [
          { label: 'policy', value: (r) => r.figures.policy },
          { label: 'checkpoints', value: (r) => r.figures.checkpoints.length },
          { label: 'peak', value: (r) => r.figures.peakBytes, format: formatBytes,
            attrs: (r) => ({ 'data-peak': String(r.figures.peakBytes), 'data-formula': String(r.figures.formulaBytes) }) },
          { label: 'vs none', value: (r) => (none ? r.figures.peakBytes / none.peakBytes : NaN), format: (x) => `${(100 * x).toFixed(0)}%` },
          { label: 'recomputed blocks', value: (r) => r.figures.recomputedBlocks },
          { label: 'step', value: (r) => r.figures.stepMs, format: formatMs },
          { label: 'time overhead', value: (r) => (none ? r.figures.stepMs / none.stepMs - 1 : NaN), format: (x) => `${(100 * x).toFixed(0)}%` },
        ],
        caption: `${n} layers. Peak bytes equal the documented formula exactly (the core's tests assert it). The seed's claim: √n memory for about 30% more time. Times are of this browser, one run's median of 3.`,
      });
    }
    const lora = results.find((r) => r.kind === 'lora');
    if (lora)
      view.table('lora', {
        test: 'lora-table',
        rows: lora.rows,
        columns: [
          { label: 'method', value: (r) => r.method },
          { label: 'trainable parameters', value: (r) => `${formatNumber(r.adapterParameters)} of ${formatNumber(r.parameters)}` },
          { label: 'frozen base', value: (r) => r.baseBytes, format: formatBytes },
          { label: 'trainable state', value: (r) => r.trainableStateBytes, format: formatBytes },
          { label: 'total', value: (r) => r.totalBytes, format: formatBytes },
          { label: 'vs full fine-tune', value: (r) => 1 - r.totalBytes / r.fullFinetuneBytes, format: (x) => `${(100 * x).toFixed(0)}% less`,
            attrs: (r) => ({ 'data-saving': String(1 - r.totalBytes / r.fullFinetuneBytes) }) },
        ],
        caption: `The tiny GPT (4 layers, d_model 128); full fine-tuning keeps ${formatBytes(lora.rows[0].fullFinetuneBytes)}: fp32 weights, gradients and AdamW's two moments, 16 bytes a parameter. Trainable state: adapters, their gradients and AdamW moments. The seed's claim for QLoRA: ~65% less.`,
      });
  },
};
