// KV cache: generation with and without it, and what MHA/GQA/MQA do to its size.
import { checkbox, int, intList, text } from '../ui/controls.js';
import { formatBytes, formatNumber } from '../ui/format.js';
import { runSweep } from '../lib/sweep.js';
import { variants } from '../lib/attention.js';
// The tiny GPT trained on data/gospels.txt by `memlab-bench train` (2 layers, d_model 64; data/README.md).
import trainedWeightsUrl from '../../../data/tiny-gpt.bin?url';

let trainedWeights = null; // fetched once, on first use
async function loadTrainedWeights() {
  if (!trainedWeights) {
    const response = await fetch(trainedWeightsUrl);
    if (!response.ok) throw new Error(`could not load the trained weights: HTTP ${response.status}`);
    trainedWeights = new Uint8Array(await response.arrayBuffer());
  }
  return trainedWeights;
}

const colors = { cache: '#1c7ed6', none: '#d9480f', MHA: '#d9480f', GQA: '#2b8a3e', MQA: '#1c7ed6' };
const tokensAxis = { label: 'generated tokens', log2: true, format: String };
// Runs with the cache per length, the fastest kept (see run()).
const cachedRepeats = 3;

// Bytes as text: printable ASCII and newlines; any other byte (the random model
// samples all 256) is left out, and counted.
function printable(bytes) {
  const kept = bytes.filter((b) => (b >= 32 && b < 127) || b === 10);
  return { text: String.fromCharCode(...kept), dropped: bytes.length - kept.length };
}

export default {
  id: 'kv-cache',
  order: 30,
  title: 'KV cache',
  intro: `
    <p>A decoder generates one token at a time, and each new token attends to every
    token before it. <b>Without a cache</b> each step runs the model over the whole
    sequence again, recomputing the keys and values of every earlier token in every
    layer: step <i>t</i> costs <i>t</i> token-passes, <i>n</i> tokens cost about
    <i>n²/2</i>. <b>With a KV cache</b> the prompt runs once, and each step runs only
    the newest token, appends its K and V to the cache and attends over it: <i>n</i>
    tokens cost <i>n</i> token-passes. Same tokens, same logits — the tests check it.</p>
    <p>The price is memory: <code>2 · layers · kv_heads · head_dim</code> floats per
    token, for every token of every sequence being served. Grouped-query and
    multi-query attention cut it by <code>heads / kv_heads</code>.</p>
    <p>The first text below is memlab's tiny byte-level GPT trained on five books of the
    World English Bible (<code>data/gospels.txt</code>, public domain, by
    <code>memlab-bench train</code>), continuing your prompt: bytes that mostly form words.
    The speed runs use the same
    architecture with random (seeded) weights, sampled at temperature 1 from the 40
    likeliest bytes, so their text is noise (only its printable bytes are shown); the
    speeds and the bytes are real. A decoding step does little arithmetic per weight it reads, so it
    is bound by memory bandwidth: the cached curve stays nearly flat, while the
    uncached one falls roughly as 1/n.</p>`,
  controls: [
    intList('tokens', 'tokens', [10, 25, 50, 100, 200], 'generated per run'),
    int('layers', 'layers', 4, 'decoder layers'),
    int('dModel', 'd_model', 128, 'model width'),
    int('heads', 'heads', 4, 'query heads'),
    int('kvHeads', 'kv_heads', 4, 'K/V heads; divides heads'),
    text('prompt', 'prompt', 'The cache ', 'text to continue'),
    checkbox('noCache', 'without cache too', true, 'slow: O(n²)'),
    checkbox('trained', 'trained model', true, 'sample the trained tiny GPT'),
  ],
  calls: ['runGeneration', 'runGenerationFrom', 'timeWeightRead', 'kvCacheSizes'],
  warmUp: [true, false].map((useCache) => ({
    fn: 'runGeneration',
    args: [{ model: { layers: 2, dModel: 64, heads: 4, kvHeads: 2, dFf: 128, maxSeq: 64, tied: true },
      modelSeed: 1, prompt: 'warm', tokens: 40, useCache, sampler: { temperature: 0, topK: 0, seed: 1 } }, undefined],
  })),

  run(v, core, onProgress) {
    const model = (kvHeads) => ({
      layers: v.layers, dModel: v.dModel, heads: v.heads, kvHeads, dFf: 4 * v.dModel,
      maxSeq: 512, tied: true,
    });
    const longest = Math.max(...v.tokens);
    // the trained model's text first: it is what the section shows first
    const points = [...(v.trained ? [{ label: 'the trained model', kind: 'trained' }] : []),
      { label: 'KV cache sizes', kind: 'bytes' }, { label: 'reading the weights once', kind: 'weights' }];
    for (const tokens of v.tokens)
      for (const useCache of v.noCache ? [true, false] : [true])
        points.push({ label: `${tokens} tokens, ${useCache ? 'cache' : 'no cache'}`, kind: 'run', tokens, useCache });


    const sampler = { temperature: 1, topK: 40, seed: 1 };
    let index = 0;
    return runSweep(points, async (p) => {
      index = points.indexOf(p);
      if (p.kind === 'bytes') {
        const vs = variants(v.heads);
        const lengths = [8, 16, 32, 64, 128, 256, 512];
        const sizes = await core.call('kvCacheSizes', model(v.heads), vs.map((x) => x.kvHeads), lengths);
        const rows = sizes.map((r) => ({ ...vs.find((x) => x.kvHeads === r.kvHeads), length: r.tokens, bytes: r.bytes }));
        return { kind: 'bytes', rows, longest };
      }
      if (p.kind === 'weights')
        return { kind: 'weights', read: await core.call('timeWeightRead', model(v.kvHeads), 1, 20) };
      if (p.kind === 'trained') {
        // The model's config comes from the file.
        const config = { prompt: v.prompt, tokens: 100, useCache: true, sampler: { temperature: 0.8, topK: 20, seed: 1 } };
        const figures = await core.call('runGenerationFrom', await loadTrainedWeights(), config, undefined);
        return { kind: 'trained', figures };
      }
      const config = { model: model(v.kvHeads), modelSeed: 1, prompt: v.prompt, tokens: p.tokens, useCache: p.useCache, sampler };
      // A cached run takes milliseconds, and one run is easily slowed (V8 still
      // optimizing, the page drawing): the fastest of three, as natively. A run
      // without the cache takes long enough to stand alone.
      const repeats = p.useCache ? cachedRepeats : 1;
      let fastest;
      for (let r = 1; r <= repeats; ++r) {
        let last = 0;
        const figures = await core.callWithProgress('runGeneration', [config], (done) => {
          // Every tenth of the run: enough to see it move, little traffic.
          if (done - last < p.tokens / 10 && done !== p.tokens) return;
          last = done;
          const run = repeats > 1 ? ` (run ${r} of ${repeats})` : '';
          onProgress({ done: index, total: points.length, label: `${p.label}${run}: token ${done} / ${p.tokens}`, results: [] });
        });
        if (!fastest || figures.ms < fastest.ms) fastest = figures;
      }
      return { kind: 'run', useCache: p.useCache, tokens: p.tokens, figures: fastest };
    }, onProgress);
  },

  async render(results, view) {
    const runs = results.filter((r) => r.kind === 'run');
    const bytes = results.find((r) => r.kind === 'bytes');
    const rate = (useCache) => runs.filter((r) => r.useCache === useCache).map((r) => [r.tokens, r.figures.tokensPerSecond]);

    const trained = results.find((r) => r.kind === 'trained');
    if (trained) {
      const m = trained.figures.config.model;
      view.text('trained', {
        title: `The trained tiny GPT (${m.layers} layers, d_model ${m.dModel}), 100 tokens after “${trained.figures.config.prompt}”`,
        content: printable(trained.figures.tokens).text,
      });
    }
    const newest = [...runs].reverse().find((r) => r.useCache);
    if (newest) {
      const { text: content, dropped } = printable(newest.figures.tokens);
      view.text('generated', {
        title: `Random weights: ${newest.tokens} tokens after “${newest.figures.config.prompt}”`
          + (dropped ? ` (${dropped} non-printable bytes not shown)` : ''),
        content,
      });
    }
    await view.chart('speed', {
      title: 'Tokens per second',
      x: tokensAxis,
      y: { label: 'tokens / s', log2: true, format: (x) => formatNumber(x) },
      series: [
        { label: 'with KV cache', color: colors.cache, points: rate(true) },
        { label: 'without cache', color: colors.none, points: rate(false) },
      ],
    });
    if (bytes) {
      const names = [...new Set(bytes.rows.map((r) => r.name))];
      await view.chart('bytes', {
        title: 'KV cache bytes for one sequence',
        x: { label: 'tokens in the cache', log2: true, format: String },
        y: { label: 'bytes', log2: true, format: formatBytes },
        series: names.map((name) => {
          const rows = bytes.rows.filter((r) => r.name === name);
          return { label: `${name} (kv_heads ${rows[0].kvHeads})`, color: colors[name], points: rows.map((r) => [r.length, r.bytes]) };
        }),
      });
    }
    const read = results.find((r) => r.kind === 'weights')?.read;
    const lengths = [...new Set(runs.map((r) => r.tokens))];
    const at = (tokens, useCache) => runs.find((r) => r.tokens === tokens && r.useCache === useCache)?.figures;
    const speedup = (n) => (at(n, true)?.tokensPerSecond ?? NaN) / (at(n, false)?.tokensPerSecond ?? NaN);
    // No cached run of n tokens can beat reading every weight once per token.
    const ceiling = (n) => (at(n, false)?.ms ?? NaN) * 1000 / (n * (read?.us ?? NaN));
    const times = (x) => (Number.isFinite(x) ? `${x.toFixed(1)}×` : '–');
    view.table('speedup', {
      test: 'kv-table',
      rows: lengths,
      columns: [
        { label: 'tokens', value: (n) => n },
        { label: 'no cache tok/s', value: (n) => at(n, false)?.tokensPerSecond ?? NaN, format: formatNumber },
        { label: 'cache tok/s', value: (n) => at(n, true)?.tokensPerSecond ?? NaN, format: formatNumber },
        {
          label: 'cached step',
          value: (n) => at(n, true)?.stepUs ?? NaN,
          format: (us) => (Number.isFinite(us) ? `${formatNumber(us)} µs` : '–'),
          attrs: (n) => ({ 'data-step-us': String(at(n, true)?.stepUs ?? NaN) }),
        },
        {
          label: 'speedup',
          value: speedup,
          format: times,
          attrs: (n) => ({ 'data-speedup': String(speedup(n)) }),
        },
        {
          label: 'ceiling',
          value: ceiling,
          format: times,
          attrs: (n) => ({ 'data-ceiling': String(ceiling(n)) }),
        },
        { label: 'KV cache allocated', value: (n) => at(n, true)?.cacheBytes ?? NaN, format: formatBytes },
      ],
      caption: (read
        ? `With the cache, the fastest of ${cachedRepeats} runs; without, one. `
          + 'A cached step is a token after the first (the first one waits for the prompt\'s prefill). '
          + `Ceiling: a cached step still reads every weight it multiplies, ${formatBytes(read.bytes)} per token; `
          + `reading them once takes ${formatNumber(read.us)} µs here, so no cached run of n tokens can beat `
          + `n × ${formatNumber(read.us)} µs, and the speedup cannot pass the time without cache over that. `
          + (Number.isFinite(read.productsUs)
            ? `The step's products alone (every x · W and the output head, no attention) take `
              + `${formatNumber(read.productsUs)} µs: the rest of a step is attention over the cache, norms, GELU and sampling. `
            : '')
        : '')
        + 'The seed lab (TinyTorch) reported ~12 tok/s without and ~200 tok/s with cache at 100 tokens (16.7×), in Python.',
    });
  },
};
