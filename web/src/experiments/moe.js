// Mixture of Experts: memory follows all the experts, a token's work only k of
// them; the router's balance with and without Switch Transformer's loss; decoding
// time per token against a dense model of the same size.
import corpus from '../../../data/corpus.txt?raw';
import { int, intList, text } from '../ui/controls.js';
import { formatBytes, formatMsUnit, formatNumber } from '../ui/format.js';
import { palette } from '../ui/charts.js';
import { groupedBars } from '../ui/bars.js';
import { runSweep } from '../lib/sweep.js';

// The dense base of every MoE model here (its MLP becomes the experts).
const modelOf = (v) => ({ layers: 2, dModel: v.dModel, heads: 4, kvHeads: 4, dFf: v.dFf, maxSeq: 64, tied: true });
// α as typed (the core holds it as a float: 0.01 comes back as 0.0099999998).
const alpha = (x) => String(Number(x.toPrecision(3)));
const balanceModel = { layers: 2, dModel: 32, heads: 4, kvHeads: 4, dFf: 64, maxSeq: 32, tied: true };

export default {
  id: 'moe',
  order: 70,
  title: 'Mixture of Experts',
  intro: `
    <p>A <b>Mixture of Experts</b> layer replaces the MLP by E expert MLPs and a
    router W_r: each token's probabilities p = softmax(h · W_r) pick its top k
    experts, whose outputs are mixed by the gates (renormalised over the k; with
    k = 1 the probability itself, as Switch Transformer). Every expert stays in
    memory, so the weights grow with E, while a token multiplies only k experts'
    weights: Mixtral 8x7B holds 46.7 B parameters and runs 12.9 B per token.</p>
    <p>Each expert takes at most C = max(1, ⌊cf · k · n / E⌋) of the n tokens of a
    forward pass (all first choices before any second choice); the rest are dropped
    and pass through the residual. Left alone, a router sends most tokens to a few
    experts: Switch's load-balancing loss E · Σ f_e · P_e (f: share of tokens
    choosing e, P: mean probability) pushes the crowded experts' probabilities down.
    Below: the sizes as E grows at fixed k, the tokens each expert gets after training
    the tiny GPT with and without that loss, and decoding time per token against a
    dense model of the same total size (d_ff · E wide).</p>`,
  controls: [
    intList('experts', 'experts E', [2, 4, 8, 16, 32], 'sizes and speed'),
    int('topK', 'top k', 2, 'experts per token'),
    int('dModel', 'd_model', 64, 'width'),
    int('dFf', 'd_ff', 128, 'per expert'),
    int('balanceExperts', 'experts (balance)', 8, 'of the trained models'),
    int('steps', 'training steps', 300, 'per run, two runs'),
    text('aux', 'balancing loss weight', '0.01', 'α (Switch: 0.01)'),
    int('tokens', 'decoded tokens', 32, 'per timed run'),
  ],
  calls: ['runMoeSizes', 'runMoeBalance', 'runMoeSpeed'],
  // on arrival: shorter training runs, fewer decoded tokens (the defaults take ~15 s here)
  arrival: { steps: 150, tokens: 16 },
  warmUp: [{ fn: 'runMoeSpeed', args: [{ layers: 2, dModel: 64, heads: 4, kvHeads: 4, dFf: 128, maxSeq: 64, tied: true }, [4], 2, 8, 2] }],

  async run(v, core, onProgress) {
    const model = modelOf(v);
    const steps = v.steps;
    const total = 1 + 2 * steps + v.experts.length;
    const results = [];
    onProgress({ done: 0, total, label: 'sizes', results });
    results.push({ kind: 'sizes', rows: await core.call('runMoeSizes', model, v.experts, v.topK) });
    const config = { model: balanceModel, experts: v.balanceExperts, topK: v.topK, capacityFactor: 0,
      auxLossCoef: Number(v.aux), steps, batch: 4, seq: 32, lr: 0.003, text: corpus, evalText: '', seed: 1 };
    const balance = await core.callWithProgress('runMoeBalance', [config], ({ done }) => {
      if (done % 10 && done !== 2 * steps) return;
      const run = done <= steps ? 'without the balancing loss' : `with α = ${v.aux}`;
      onProgress({ done: 1 + done, total, label: `training ${run}: step ${((done - 1) % steps) + 1} / ${steps}`, results });
    });
    results.push({ kind: 'balance', balance });
    const speed = await runSweep(v.experts.map((e) => ({ label: `decoding, ${e} experts`, e })),
      async (p) => ({ kind: 'speed', row: (await core.call('runMoeSpeed', model, [p.e], v.topK, v.tokens, 3))[0] }),
      ({ done, label, results: partial }) => onProgress({ done: 1 + 2 * steps + done, total, label, results: [...results, ...partial] }));
    return [...results, ...speed];
  },

  async render(results, view, v) {
    const sizes = results.find((r) => r.kind === 'sizes')?.rows;
    if (sizes)
      await view.chart('sizes', {
        title: `Weights as E grows at top ${v.topK}: all resident, k active per token`,
        x: { label: 'experts E', log2: true, format: String },
        y: { label: 'bytes (fp32)', log2: true, format: formatBytes },
        series: [
          { label: 'total (resident)', color: palette[0], points: sizes.map((r) => [r.experts, r.weightBytes]) },
          { label: `active per token (k = ${v.topK})`, color: palette[1], points: sizes.map((r) => [r.experts, r.activeBytes]) },
        ],
      });
    const balance = results.find((r) => r.kind === 'balance')?.balance;
    if (balance) {
      const experts = balance.without.total.map((_, i) => String(i));
      const body = view.figure('histogram', {
        title: `Tokens per expert after ${v.steps} steps (${experts.length} experts, top ${v.topK}; choices on `
          + `${formatNumber(balance.evalTokens)} tokens, both layers)`,
      });
      groupedBars(body, {
        groups: experts,
        series: [
          { label: 'without the balancing loss', color: '#adb5bd', values: balance.without.total },
          { label: `with α = ${alpha(balance.with.auxLossCoef)}`, color: palette[1], values: balance.with.total },
        ],
        xLabel: 'expert', yLabel: 'tokens', format: (x) => formatNumber(Math.round(x)),
      });
      body.dataset.withoutMaxOverMean = String(balance.without.maxOverMean);
      body.dataset.withMaxOverMean = String(balance.with.maxOverMean);
      view.table('balance', {
        test: 'moe-balance',
        rows: [balance.without, balance.with],
        columns: [
          { label: 'balancing loss α', value: (r) => alpha(r.auxLossCoef) },
          { label: 'busiest expert / mean', value: (r) => r.maxOverMean, format: (x) => `${x.toFixed(2)}×`,
            attrs: (r) => ({ 'data-max-over-mean': String(r.maxOverMean) }) },
          { label: 'idlest expert / mean', value: (r) => Math.min(...r.total) / (r.total.reduce((a, b) => a + b) / r.total.length),
            format: (x) => `${x.toFixed(2)}×` },
          { label: 'eval loss', value: (r) => r.finalLoss, format: (x) => x.toFixed(3) },
        ],
        caption: 'Perfect balance is 1.00×. The loss is met early by near-uniform router probabilities that still rank '
          + 'the same experts first; once the language-model loss makes the router confident, the counts even out.',
      });
    }
    const speed = results.filter((r) => r.kind === 'speed').map((r) => r.row);
    if (speed.length)
      await view.chart('speed', {
        title: `Decoding time per token: MoE (top ${v.topK}) vs a dense model of the same total size`,
        x: { label: 'experts E (dense: d_ff · E wide)', log2: true, format: String },
        y: { label: 'ms per token', log2: true, format: formatMsUnit },
        series: [
          { label: 'MoE', color: palette[1], points: speed.map((r) => [r.experts, r.moeMsPerToken]) },
          { label: 'dense, same size', color: palette[0], points: speed.map((r) => [r.experts, r.denseMsPerToken]) },
        ],
      });
  },
};
