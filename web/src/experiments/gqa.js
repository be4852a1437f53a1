// MHA vs GQA vs MQA: fewer K/V heads, a proportionally smaller KV cache.
import { int, checkbox, pow2Range } from '../ui/controls.js';
import { formatBytes, formatMs, formatMsUnit } from '../ui/format.js';
import { runSweep } from '../lib/sweep.js';
import { attentionWarmUp, variants } from '../lib/attention.js';

const colors = { MHA: '#d9480f', GQA: '#2b8a3e', MQA: '#1c7ed6' };
const seqAxis = { label: 'seq', log2: true, format: String };

export default {
  id: 'gqa',
  order: 20,
  title: 'MHA vs GQA vs MQA',
  intro: `
    <p>While a model generates text it keeps the keys and values of every past token,
    per layer: the <b>KV cache</b>, <code>2 · kv_heads · seq · head_dim</code> numbers.
    With ordinary multi-head attention (<b>MHA</b>) every query head has its own K and V
    head, so <code>kv_heads = heads</code>. For a 7B-class model (32 layers, 32 heads,
    head_dim 128, fp16) that is 2 GiB per 4096-token sequence.</p>
    <p><b>Multi-query attention</b> (<b>MQA</b>) lets all query heads share one K/V head;
    <b>grouped-query attention</b> (<b>GQA</b>) shares one K/V head per group of query
    heads, e.g. 64 query heads over 8 K/V heads. The cache shrinks by
    <code>heads / kv_heads</code>. The attention arithmetic does not: every query head
    still attends to every position, so the times below stay close. In real decoding,
    where each new token has to read the whole cache from memory, the smaller cache is
    what makes it faster. GQA keeps nearly all of MHA's quality; MQA loses a little.</p>
    <p>Each point runs flash attention on one layer in fp32.</p>`,
  controls: [
    pow2Range('seq', 'seq', { from: 128, to: 2048, max: 4096 }),
    int('headDim', 'head_dim', 64, 'values per head'),
    int('heads', 'heads', 8, 'query heads'),
    int('block', 'block', 64, 'tile rows of Q and of K/V'),
    int('repeats', 'repeats', 3, 'time is their median'),
    checkbox('causal', 'causal', false, 'mask future positions'),
  ],
  calls: ['runAttention'],
  warmUp: attentionWarmUp,
  // on arrival: a shorter sweep, one repeat (the defaults take ~25 s here)
  arrival: { seqMax: 512, repeats: 1 },

  run(v, core, onProgress) {
    const points = v.seq.flatMap((seq) => variants(v.heads).map(({ name, kvHeads }) => ({
      label: `seq ${seq}, ${name} (kv_heads ${kvHeads})`,
      config: {
        seq, headDim: v.headDim, heads: v.heads, kvHeads, causal: v.causal,
        blockQ: v.block, blockKv: v.block, repeats: v.repeats, seed: 1, runNaive: false,
      },
    })));
    return runSweep(points, (p) => core.call('runAttention', p.config), onProgress);
  },

  async render(results, view, v) {
    const vs = variants(v.heads);
    const label = ({ name, kvHeads }) => `${name} (kv_heads ${kvHeads})`;
    const series = (pick) => vs.map((variant) => ({
      label: label(variant),
      color: colors[variant.name],
      points: results.filter((r) => r.config.kvHeads === variant.kvHeads).map((r) => [r.config.seq, pick(r)]),
    }));
    await view.chart('kv', {
      title: 'KV cache of one layer',
      x: seqAxis,
      y: { label: 'KV cache', log2: true, format: formatBytes },
      series: series((r) => r.kvBytes),
    });
    await view.chart('time', {
      title: 'Flash attention time (median)',
      x: seqAxis,
      y: { label: 'time', log2: true, format: formatMsUnit },
      series: series((r) => r.flash.medianMs),
    });

    const seqs = [...new Set(results.map((r) => r.config.seq))];
    const at = (seq, kvHeads) => results.find((r) => r.config.seq === seq && r.config.kvHeads === kvHeads);
    const cols = (group, pick, format) => vs.map((variant) => ({
      group,
      label: variant.name,
      value: (seq) => { const r = at(seq, variant.kvHeads); return r ? pick(r) : NaN; },
      format,
    }));
    view.table('results', {
      test: 'gqa-table',
      rows: seqs,
      columns: [
        { label: 'seq', value: (seq) => seq },
        ...cols('KV cache', (r) => r.kvBytes, formatBytes),
        ...cols('time (ms)', (r) => r.flash.medianMs, formatMs),
      ],
      caption: vs.map((x) => label(x)).join(' · '),
    });
  },
};
