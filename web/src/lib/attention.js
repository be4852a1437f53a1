// What the attention experiments share: the MHA/GQA/MQA variants of a head count,
// the untimed warm-up of runAttention (the sections flash-vs-naive, gqa and
// kv-cache, and the exercises' compare charts, use them), and the controls and
// sweep points of the naive-vs-flash sections (flash-vs-naive, flash-backward).
import { int, checkbox, pow2Range } from '../ui/controls.js';

/** kv_heads to compare: heads (MHA), a divisor near √heads (GQA), 1 (MQA). */
export function variants(heads) {
  if (!(heads > 1)) return [{ name: 'MHA', kvHeads: heads }]; // the core explains bad heads
  const inner = [];
  for (let d = 2; d < heads; d++) if (heads % d === 0) inner.push(d);
  const gqa = inner.filter((d) => d * d <= heads).pop() ?? inner[0];
  return [
    { name: 'MHA', kvHeads: heads },
    ...(gqa ? [{ name: 'GQA', kvHeads: gqa }] : []),
    { name: 'MQA', kvHeads: 1 },
  ];
}

const attention = { seq: 256, headDim: 64, heads: 2, kvHeads: 2, causal: false,
  blockQ: 64, blockKv: 64, repeats: 3, seed: 1, runNaive: true };

/** Flash and naive, plain and causal, at a small size: lets the kernels tier up. */
export const attentionWarmUp = [
  { fn: 'runAttention', args: [attention] },
  { fn: 'runAttention', args: [{ ...attention, causal: true }] },
];

/** seq swept over powers of two from 128 to `to` (at most 4096), and the rest fixed. */
export function attentionControls({ to }) {
  return [
    pow2Range('seq', 'seq', { from: 128, to, max: 4096 }),
    int('headDim', 'head_dim', 64, 'values per head'),
    int('heads', 'heads', 4, 'query heads'),
    int('kvHeads', 'kv_heads', 4, 'K/V heads; divides heads'),
    int('block', 'block', 64, 'tile rows of Q and of K/V'),
    int('repeats', 'repeats', 3, 'time is their median'),
    checkbox('causal', 'causal', false, 'mask future positions'),
  ];
}

/** One sweep point per seq (an attention_config), naive included. */
export function attentionPoints(v) {
  return v.seq.map((seq) => ({
    label: `seq ${seq}`,
    config: {
      seq, headDim: v.headDim, heads: v.heads, kvHeads: v.kvHeads, causal: v.causal,
      blockQ: v.block, blockKv: v.block, repeats: v.repeats, seed: 1, runNaive: true,
    },
  }));
}
