// What the attention sections share (flash-vs-naive, flash-backward): their controls
// and the core's attention config (experiments::attention_config) of each point.
import { int, checkbox, pow2Range } from '../ui/controls.js';

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

/** One sweep point per seq, naive included. */
export function attentionPoints(v) {
  return v.seq.map((seq) => ({
    label: `seq ${seq}`,
    config: {
      seq, headDim: v.headDim, heads: v.heads, kvHeads: v.kvHeads, causal: v.causal,
      blockQ: v.block, blockKv: v.block, repeats: v.repeats, seed: 1, runNaive: true,
    },
  }));
}
