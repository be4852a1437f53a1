// Memory planner: a real model's bytes for a recipe, before and after the
// techniques, against three devices; and the same recipe run on the tiny GPT,
// where every predicted byte is measured.
import { checkbox, int, text } from '../ui/controls.js';
import { formatBytes, formatNumber } from '../ui/format.js';
import { badge } from '../ui/table.js';
import { stackedBars } from '../ui/bars.js';

const parts = [
  ['weights', 'weights'], ['kvCache', 'KV cache'], ['activations', 'activations'],
  ['gradients', 'gradients'], ['optimizer', 'optimizer'], ['adapters', 'adapters'],
];

/** Decimal gigabytes, as model cards and GPU specs quote them: 26954000000 -> "27.0 GB". */
const gb = (bytes) => (bytes >= 1e9 ? `${(bytes / 1e9).toFixed(bytes >= 1e11 ? 0 : 1)} GB`
  : bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : formatBytes(bytes));
const count = (n) => (n >= 1e9 ? `${(n / 1e9).toFixed(2)} B` : n >= 1e6 ? `${(n / 1e6).toFixed(1)} M` : formatNumber(n));

// Shape edits as written in the box: "layers=40, kv_heads=8" (C++ names) -> fields.
const fieldOf = { layers: 'layers', d_model: 'dModel', heads: 'heads', kv_heads: 'kvHeads', d_ff: 'dFf',
  vocab: 'vocab', positions: 'positions', experts: 'experts', top_k: 'topK', mlp: 'mlp', norm: 'norm',
  tied: 'tied', biases: 'biases' };

function edited(shape, edits) {
  const out = { ...shape };
  for (const item of edits.split(',').map((s) => s.trim()).filter(Boolean)) {
    const [key, value] = item.split('=').map((s) => s.trim());
    const field = fieldOf[key];
    if (!field || value === undefined)
      throw new Error(`shape edit "${item}": expected name=value with a name among ${Object.keys(fieldOf).join(', ')}`);
    if (typeof shape[field] === 'boolean') out[field] = value === 'true' || value === '1';
    else if (typeof shape[field] === 'number') out[field] = Number(value); // the core names a bad one
    else out[field] = value;
  }
  if (edits.trim()) out.name = `${shape.name} (edited)`;
  return out;
}

// The same task with no technique: fp32 weights and a contiguous fp32 KV cache, or
// full fine-tuning in fp32 without checkpoints and with eager (naive) attention.
function baseline(recipe) {
  const training = recipe.train !== 'none';
  return { ...recipe, weights: 'fp32', embeddings: '', kv: 'fp32', paged: false, activationBytes: 4,
    train: training ? 'full' : 'none', checkpoint: 'none', attention: 'naive' };
}

export default {
  id: 'memory-planner',
  order: 80,
  title: 'Memory planner',
  intro: `
    <p>How many bytes does a model need? The planner adds them up for any shape and
    recipe: <b>weights</b> in their format (quantization scales included),
    the <b>KV cache</b> (contiguous: reserved up front; paged: whole blocks),
    <b>activations</b> of one training step under a checkpoint policy,
    <b>gradients</b>, AdamW's two moments (<b>optimizer</b>) and LoRA <b>adapters</b>.
    Its arithmetic is memlab's own, so on the tiny GPT every figure can be
    <em>measured</em>: the panel below runs the same recipe in the worker and sets
    the tracker's bytes beside the prediction (the core's tests assert them equal for
    every format, both caches, each checkpoint policy, LoRA and QLoRA, dense and MoE).</p>
    <p>Presets: <code>gpt2</code>, <code>gpt3-175b</code>, <code>llama-2-7b</code>,
    <code>llama-2-13b</code>, <code>llama-2-70b</code> (GQA, 8 KV heads),
    <code>mixtral-8x7b</code> (8 experts, top 2). Edit the shape with
    <code>name=value</code> pairs (e.g. <code>layers=40, kv_heads=8</code>).
    Weight formats: fp32 fp16 bf16 int8_sym int8_asym int4_sym int4_asym q8_0 q4_0 q4_1
    nf4 nf4_dq; KV: fp32 fp16 bf16 q8_0 q4_0; train: none full lora qlora; checkpoint:
    none sqrt every:K set:I,J; attention in training: flash (keeps O and one logsumexp
    per query row) or naive (keeps the [heads, seq, seq] probabilities). "Before" is
    the same task with no technique (fp32, a contiguous cache, full fine-tuning
    without checkpoints, naive attention). GB here are 10⁹ bytes;
    the devices are 8, 24 and 80 GiB. Not counted (the planner lists it): a CUDA
    context, the allocator's slack, framework temporaries.</p>`,
  controls: [
    text('preset', 'preset', 'llama-2-7b', 'gpt2 … mixtral-8x7b',
      ['gpt2', 'gpt3-175b', 'llama-2-7b', 'llama-2-13b', 'llama-2-70b', 'mixtral-8x7b']),
    text('shape', 'shape edits', '', 'e.g. layers=40, kv_heads=8'),
    int('seq', 'sequence', 4096, 'tokens'),
    int('batch', 'batch', 1, 'sequences'),
    text('train', 'train', 'none', 'none, full, lora, qlora', ['none', 'full', 'lora', 'qlora']),
    text('weights', 'weights', 'q4_0', 'format of the linear layers',
      ['fp32', 'fp16', 'bf16', 'int8_sym', 'int8_asym', 'int4_sym', 'int4_asym', 'q8_0', 'q4_0', 'q4_1', 'nf4', 'nf4_dq']),
    text('kv', 'KV cache', 'fp16', 'fp32 fp16 bf16 q8_0 q4_0', ['fp32', 'fp16', 'bf16', 'q8_0', 'q4_0']),
    checkbox('paged', 'paged KV', true, 'blocks of 16 tokens'),
    text('checkpoint', 'checkpointing', 'sqrt', 'none, sqrt, every:K', ['none', 'sqrt', 'every:2', 'every:4']),
    text('attention', 'attention', 'flash', 'training: flash or naive', ['flash', 'naive']),
    int('rank', 'LoRA rank', 8, 'LoRA / QLoRA'),
    int('activationBytes', 'activation bytes', 2, '4 fp32, 2 bf16'),
  ],
  calls: ['plannerPreset', 'plan', 'plannerDevices', 'runPlannerCheck'],

  async run(v, core, onProgress) {
    const total = 4;
    const shape = edited(await core.call('plannerPreset', v.preset), v.shape);
    const recipe = { weights: v.weights, embeddings: '', kv: v.kv, paged: v.paged, block: 16, seq: v.seq,
      context: 0, batch: v.batch, train: v.train, checkpoint: v.checkpoint, attention: v.attention, rank: v.rank,
      activationBytes: v.activationBytes };
    const results = [];
    const step = (label) => onProgress({ done: results.length, total, label, results });
    step('planning');
    results.push({ kind: 'plan', which: 'before', plan: await core.call('plan', shape, baseline(recipe)) });
    results.push({ kind: 'plan', which: 'after', plan: await core.call('plan', shape, recipe) });
    results.push({ kind: 'devices', devices: await core.call('plannerDevices') });
    step('the same recipe on the tiny GPT');
    results.push({ kind: 'check', check: await core.call('runPlannerCheck', { like: shape, recipe, seed: 1 }) });
    return results;
  },

  async render(results, view) {
    const before = results.find((r) => r.which === 'before')?.plan;
    const after = results.find((r) => r.which === 'after')?.plan;
    const devices = results.find((r) => r.kind === 'devices')?.devices;
    const check = results.find((r) => r.kind === 'check')?.check;
    if (before && after && devices) {
      const bar = (label, p) => ({ label, parts: parts.map(([key, name]) => ({ name, value: p.bytes[key] })) });
      const body = view.figure('breakdown', {
        title: `Before (fp32, no technique) and after (this recipe): ${after.model.name}, ${count(after.paramsTotal)} parameters${after.paramsActive < after.paramsTotal
          ? ` (${count(after.paramsActive)} active per token)` : ''}, ${after.recipe.seq} tokens × ${after.recipe.batch}`,
      });
      stackedBars(body, {
        bars: [bar('before', before), bar('after', after)],
        names: parts.map(([, name]) => name),
        markers: devices.map((d) => ({ label: d.label, value: d.bytes })),
        format: gb,
      });
      body.dataset.before = String(before.bytes.total);
      body.dataset.after = String(after.bytes.total);
      const fits = (p) => devices.map((d) => (p.bytes.total <= d.bytes ? badge(d.label, 'ok') : badge(d.label, 'bad')));
      view.table('breakdown', {
        test: 'planner-table',
        rows: [...parts.map(([key, name]) => ({ name, before: before.bytes[key], after: after.bytes[key] })),
          { name: 'total', before: before.bytes.total, after: after.bytes.total, total: true }],
        columns: [
          { label: '', value: (r) => r.name },
          { label: 'before', value: (r) => r.before, format: gb, numeric: true },
          { label: 'after', value: (r) => r.after, format: gb, numeric: true,
            attrs: (r) => ({ 'data-part': r.name, 'data-bytes': String(r.after) }) },
          { label: 'fits', value: (r) => (r.total ? r : null),
            format: (r) => (r ? [...fits(after)] : ''),
            attrs: (r) => (r.total ? { 'data-fits': devices.filter((d) => after.bytes.total <= d.bytes).map((d) => d.label).join('|') } : {}) },
        ],
        caption: `After: weights ${after.recipe.train === 'qlora' ? 'nf4_dq (QLoRA)' : after.recipe.train === 'full' ? 'fp32 (trained)' : after.recipe.weights}`
          + `${after.bytes.weightScales ? ` (of which scales ${gb(after.bytes.weightScales)})` : ''}, `
          + `KV ${after.recipe.kv}${after.recipe.paged ? ' paged' : ''}${after.recipe.train !== 'none' ? `, ${after.recipe.attention} attention` : ''}. Notes: ${after.notes.join('; ')}.`,
      });
    }
    if (check) {
      const equal = (r) => (r.measured === null ? badge('estimate', 'warn') : r.measured === r.predicted ? badge('equal', 'ok') : badge('different', 'bad'));
      const m = check.model;
      view.table('tiny', {
        test: 'planner-check',
        rows: check.rows,
        columns: [
          { label: 'measured on the tiny GPT', value: (r) => r.name },
          { label: 'predicted', value: (r) => r.predicted, format: (b) => `${formatBytes(b)} (${b})`, numeric: true },
          { label: 'measured', value: (r) => r.measured, format: (b) => (b === null ? '—' : `${formatBytes(b)} (${b})`), numeric: true,
            attrs: (r) => ({ 'data-predicted': String(r.predicted), 'data-measured': String(r.measured) }) },
          { label: '', value: (r) => r, format: equal },
        ],
        caption: `The same recipe in the worker on the tiny GPT (${m.layers} layers, d_model ${m.dModel}, ${m.heads} heads, `
          + `${m.kvHeads} KV heads, d_ff ${m.dFf}${m.experts ? `, ${m.experts} experts, top ${m.topK}` : ''}), bytes counted by `
          + `the tracker. ${check.allEqual ? 'Predicted = measured for every measured figure.' : 'Some figures differ.'}`
          + `${check.adapted.length ? ` Adapted to what memlab runs: ${check.adapted.join('; ')}.` : ''}`,
      });
    }
  },
};
