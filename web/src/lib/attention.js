// What the attention experiments share: the MHA/GQA/MQA variants of a head count,
// and the untimed warm-up of runAttention (the sections flash-vs-naive, gqa and
// kv-cache, and the exercises' compare charts, use them).

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
