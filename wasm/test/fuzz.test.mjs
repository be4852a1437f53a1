// fuzz.test.mjs — the JS-API fuzzer: seeded random and boundary values for every
// argument and field of every export of the wasm module, drawn from the
// module's own description of its API (apiSchema, declared with the bindings).
//
//   MEMLAB_WASM_DIR=build/wasm/wasm node --test wasm/test/fuzz.test.mjs
//   MEMLAB_FUZZ_SEED=7 MEMLAB_FUZZ_SECONDS=60 ...    another seed, a longer run
//   MEMLAB_FUZZ_SEED=7 MEMLAB_FUZZ_CALL=1234 ...     replay one call (printed on failure)
//
// Call i starts from one of the export's valid example calls (examples.mjs)
// and, drawn from a generator seeded by (seed, i), either re-draws some sizes
// among small valid values, or mutates one to three arguments or fields: a
// boundary or hostile value of the wrong type (1.5, NaN, Infinity, "12", null,
// [], {}, undefined, 2^31, 2^32, 2^53, 1e9...), a missing field, an unknown one,
// an extra argument, a typed array of the wrong type or length, NaN in the
// data, a callback that throws, a model file cut or corrupted. Every call must
// give one of:
//   - a result that passes the export's oracle (exact bytes by formula, flash
//     against naive, peak bytes against the documented formula, ...), and only
//     when no mutation broke a type;
//   - an Error whose message reads "<name> = <value>: expected <what>" where
//     <name> is an argument or field of that export (or a size derived from
//     them); a mutation of one value's type must be refused naming exactly it.
// After every call the module must be healthy: the tracker's live bytes and the
// emval handles back at their baseline, and after a failed call the wasm heap's
// bytes in use too. At the end every export runs its example again. Calls run
// round-robin over the exports until the time budget (default 45 s) is spent;
// the counts are printed.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'node:test';
import { pathToFileURL } from 'node:url';
import { attentionReference, examples, floats } from './examples.mjs';

const dir = process.env.MEMLAB_WASM_DIR;
assert.ok(dir, 'set MEMLAB_WASM_DIR to the folder holding memlab.mjs (build/wasm/wasm)');
const { default: createMemlab } = await import(pathToFileURL(join(dir, 'memlab.mjs')).href);
const memlab = await createMemlab({ wasmBinary: readFileSync(join(dir, 'memlab-core.wasm')) });
const { schema } = memlab;

const seed = Number(process.env.MEMLAB_FUZZ_SEED ?? 1);
const seconds = Number(process.env.MEMLAB_FUZZ_SECONDS ?? 45);
const only = process.env.MEMLAB_FUZZ_CALL === undefined ? null : Number(process.env.MEMLAB_FUZZ_CALL);

// ---- a seeded generator (splitmix32 over (seed, call)) -------------------------
function generator(s, call) {
  let state = (Math.imul(s, 0x9e3779b9) ^ Math.imul(call + 1, 0x85ebca6b)) >>> 0;
  const next = () => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return ((z ^ (z >>> 16)) >>> 0) / 2 ** 32;
  };
  const int = (n) => Math.floor(next() * n);
  return { next, int, pick: (list) => list[int(list.length)], chance: (p) => next() < p };
}

// ---- the names an export's errors may cite -----------------------------------
const snake = (name) => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
function namesOf(params, into = new Set()) {
  for (const p of params) {
    into.add(snake(p.name));
    if (p.kind === 'object' && !into.has(`:${p.type}`)) {
      into.add(`:${p.type}`);
      namesOf(schema.objects[p.type], into);
    }
  }
  return into;
}
// Sizes core derives from the arguments and names in its messages.
const derived = ['arguments', 'length', 'head_dim', 'seq_q', 'seq_kv', 'prompt length', 'max_new_tokens', 'position',
  'file size', 'magic', 'vocab', 'token_embedding', 'position_embedding', 'norm1', 'wq', 'wk', 'wv', 'wo', 'norm2',
  'w1', 'w2', 'norm_f', 'lm_head', 'weights', 'budget / block_size', 'requests[i]', 'k', 'blocks', 'every', 'set',
  'policy', 'cols', 'tokens', 'block', 'x', 'unknown_field'];
// A weights file's header holds a model config: runGenerationFrom names its fields.
const fileHolds = { runGenerationFrom: [{ name: 'model', kind: 'object', type: 'GptConfig' }] };
const allowed = Object.fromEntries(Object.entries(schema.functions).map(([name, params]) => [name,
  new Set([...namesOf([...params, ...(fileHolds[name] ?? [])]), ...derived])]));

// "config.sampler.topK" -> "top_k"; "q.length" -> "length"; "layers[0].wq[5]" -> "wq";
// "experts.size()" -> "experts".
function citedName(message) {
  const match = /^(.+?) = [^]*?: expected [^]+$/.exec(message);
  if (!match) return null;
  const name = match[1].replace(/\.size\(\)$/, '');  // "experts.size()": a count of experts
  if (allowedWhole(name)) return name;
  const last = name.replace(/\[[^\]]*\]/g, '').split('.').pop();
  return snake(last);
}
const allowedWhole = (name) => ['budget / block_size', 'prompt length', 'file size', 'requests[i].arrival',
  'max |q| · max |k| · sqrt(head_dim)',
  'requests[i].id', 'requests[i].prompt + output'].includes(name);

// ---- values ----------------------------------------------------------------------
const hostile = {
  integer: [1.5, -0.5, NaN, Infinity, -Infinity, '12', '', null, undefined, [], [3], {}, true, 2 ** 32,
    2 ** 32 + 1, 2 ** 53, -(2 ** 31) - 1, 1e300, 10n],
  number: [NaN, Infinity, -Infinity, '0.5', '', null, undefined, [], {}, true, 10n],
  boolean: ['no', 'true', 0, 1, null, undefined, [], {}],
  string: [5, null, undefined, [], {}, true, ['a']],
  object: [null, 0, 'x', [], undefined, true, new Float32Array(2)],
  float32_array: [null, undefined, [0.5, 1], new Float64Array(4), new Uint8Array(4), {}, 'abc', 0],
  uint8_array: [null, undefined, [1, 2], new Float32Array(4), new Int8Array(4), {}, 'MLABGPT1', 0],
  function: [5, 'f', {}, null, []],
  integer_array: [null, 5, {}, [1.5], ['1'], [NaN], new Int32Array(2)],
};
// Boundary values of the right type: refused by core (a range, a limit) or valid.
const boundary = {
  // (No mid-sized values: 10^6 rows, or a pool of 2^24 slots, make valid calls
  // that take the tens of seconds the limits allow, and the fuzzer would spend
  // its minute on a few calls; api.test.mjs refuses the limits' edges.)
  integer: (s) => [0, -1, 1, 2, 3, 7, 64, 1e9, 2 ** 28, 2 ** 30, 2 ** 31 - 1,
    2 ** 31, s.min, s.max].filter((x) => x >= s.min && x <= s.max),
  number: () => [0, -0, -1, 1e-9, 1e-300, 0.5, 1, 4, 1e9, 1e300, -1e300, 5e-324],
  string: (s) => (s.values ? [...s.values, `${s.values[0]}x`, s.values[0].toUpperCase(), '', ' ', '12'] :
    ['', 'a', 'The ', '\u0000\uffff', 'é', 'x'.repeat(300), 'every:0', 'every:2', 'set:0,1', 'set:9', 'none', 'sqrt']),
  boolean: () => [true, false],
};
// Small valid-looking sizes for a re-draw.
const small = [1, 1, 2, 2, 3, 4, 4, 8, 16];

// Every path to a value in a call: [argument index, key, key, ...], with its spec.
function paths(params, args) {
  const out = [];
  const walk = (spec, x, path) => {
    out.push({ spec, path });
    if (spec.kind === 'object' && x && typeof x === 'object' && !Array.isArray(x) && !ArrayBuffer.isView(x))
      for (const f of schema.objects[spec.type]) walk(f, x[f.name], [...path, f.name]);
  };
  params.forEach((p, i) => walk(p, args[i], [i]));
  return out;
}
function get(args, path) { return path.reduce((x, k) => (x == null ? undefined : x[k]), args); }
function set(args, path, value) {
  const parent = get(args, path.slice(0, -1));
  if (parent && typeof parent === 'object') parent[path[path.length - 1]] = value;
}
function named(params, path) {
  return [params[path[0]].name, ...path.slice(1)].join('.');
}
function clone(x) {
  if (ArrayBuffer.isView(x)) return x.slice();
  if (Array.isArray(x)) return x.map(clone);
  if (x && typeof x === 'object') return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, clone(v)]));
  return x;
}

// Fills typed arrays with a declared length to match their sizes, when small.
function fitArrays(params, args, g) {
  params.forEach((p, i) => {
    if (!p.length || !ArrayBuffer.isView(args[i])) return;
    const sizes = p.length.map((path) => path.split('.').reduce((x, k, j) =>
      (j === 0 ? args[params.findIndex((q) => q.name === k)] : x?.[k]), undefined));
    if (sizes.some((x) => typeof x !== 'number')) return;
    const n = sizes.reduce((a, b) => a * b, 1);
    if (Number.isInteger(n) && n >= 0 && n <= 20000) args[i] = floats(n, g.int(1000));
  });
}

// One call of `name` from generator g: the arguments and what was done to them.
function draw(name, g) {
  const params = schema.functions[name];
  const calls = examples[name]();
  const args = clone(g.pick(calls));
  const done = { typeBroken: null, mutations: [] };
  const all = paths(params, args);
  const mode = g.next();
  if (all.length === 0) {  // no arguments: call it, or with one too many
    if (mode < 0.5) {
      args.push(g.pick([0, undefined, null, {}]));
      done.mutations.push('an extra argument');
      done.typeBroken = 'arguments.length';
    }
  } else if (mode < 0.3) {  // re-draw a few integer sizes among small values
    for (const { spec, path } of all)
      if (spec.kind === 'integer' && spec.min < 0 && g.chance(0.3)) set(args, path, g.pick(small));
    fitArrays(params, args, g);
    done.mutations.push('small sizes');
  } else {
    const count = 1 + g.int(3);
    for (let m = 0; m < count; m++) {
      const { spec, path } = g.pick(all);
      const where = named(params, path);
      const r = g.next();
      if (r < 0.45 && hostile[spec.kind]) {  // refused by schema.mjs, naming where
        set(args, path, g.pick(hostile[spec.kind]));
        done.mutations.push(`${where} = hostile`);
        if (count === 1) done.typeBroken = where;
      } else if (r < 0.8 && boundary[spec.kind]) {  // valid, or refused by core
        const value = g.pick(boundary[spec.kind](spec));
        set(args, path, value);
        done.mutations.push(`${where} = ${String(value).slice(0, 20)}`);
        if (g.chance(0.5)) fitArrays(params, args, g);
      } else if (r < 0.85 && path.length > 1 && get(args, path.slice(0, -1)) instanceof Object) {
        delete get(args, path.slice(0, -1))[path[path.length - 1]];
        done.mutations.push(`${where} deleted`);
        if (count === 1) done.typeBroken ??= where;
      } else if (r < 0.9 && spec.kind === 'object' && get(args, path) && typeof get(args, path) === 'object') {
        get(args, path).unknownField = 1;
        done.mutations.push(`${where}.unknownField added`);
        if (count === 1) done.typeBroken ??= `${where}.unknownField`;
      } else if (spec.kind === 'float32_array' && ArrayBuffer.isView(get(args, path)) && get(args, path).length) {
        const a = get(args, path);
        a[g.int(a.length)] = g.pick([NaN, Infinity, -Infinity, 3e38, -0]);
        done.mutations.push(`${where}[i] = special`);
      } else if (spec.kind === 'uint8_array' && ArrayBuffer.isView(get(args, path))) {
        let a = get(args, path);
        a = g.chance(0.5) ? a.slice(0, g.int(a.length + 1)) : a.slice();
        for (let k = 0; k < 1 + g.int(4); k++) if (a.length) a[g.chance(0.5) ? g.int(Math.min(40, a.length)) : g.int(a.length)] = g.int(256);
        set(args, path, a);
        done.mutations.push(`${where} cut or corrupted`);
      } else if (spec.kind === 'function') {
        const after = g.int(3);
        let calls = 0;
        set(args, path, () => { if (calls++ >= after) throw new Error(`callback threw after ${after}`); });
        done.mutations.push(`${where} throws after ${after} calls`);
        done.callbackThrows = `callback threw after ${after}`;
      } else if (g.chance(0.2)) {
        args.push(0);
        done.mutations.push('an extra argument');
        if (count === 1) done.typeBroken ??= 'arguments.length';
      }
    }
  }
  return { args, done };
}

// ---- oracles: what a successful call must give ------------------------------------
const close = (a, b, tol) => Math.abs(a - b) <= tol * Math.max(1, Math.abs(b));
const attentionOracle = (r, [q, k, v, shape, causal]) => {
  assert.ok(r instanceof Float32Array && r.length === shape.heads * shape.seqQ * shape.headDim, 'output length');
  if (r.length * shape.seqKv <= 200000) {
    const expected = attentionReference(q, k, v, shape, causal);
    const scale = Math.max(1, ...Array.from(v, Math.abs));  // outputs are weighted means of v
    r.forEach((x, i) => assert.ok(Math.abs(x - expected[i]) <= 1e-4 * scale, `output[${i}] = ${x}, reference ${expected[i]}`));
  }
};
const oracles = {
  memoryStats: (r) => assert.equal(r.liveBytes, baseline.live),
  heapBytes: (r) => assert.ok(Number.isInteger(r) && r > 0),
  quantFormats: (r) => assert.deepEqual(r, schema.objects.QuantConfig.find((f) => f.name === 'format').values),
  kvCacheBytes: (r, [m, tokens]) =>
    assert.equal(BigInt(r), 2n * BigInt(m.layers) * BigInt(m.kvHeads) * BigInt(tokens) * BigInt(m.dModel / m.heads) * 4n),
  naiveAttention: attentionOracle,
  flashAttention: attentionOracle,
  runAttention: (r, [c]) => {
    assert.equal(r.kvBytes, 2 * c.kvHeads * c.seq * c.headDim * 4);
    if (c.runNaive) assert.ok(r.maxAbsDiff <= 1e-4, `maxAbsDiff ${r.maxAbsDiff}`);
  },
  runCacheDecode: (r, [c]) => {
    assert.equal(r.cacheBytes, 2 * c.kvHeads * c.tokens * c.headDim * 4);
    assert.ok(r.maxAbsDiff <= 1e-4, `maxAbsDiff ${r.maxAbsDiff}`);
  },
  runGeneration: (r, [c]) => {
    assert.equal(r.tokens.length, c.tokens);
    for (const t of r.tokens) assert.ok(Number.isInteger(t) && t >= 0 && t < 256);
  },
  runGenerationFrom: (r, [, c]) => assert.equal(r.tokens.length, c.tokens),
  timeWeightRead: (r) => assert.ok(r.bytes > 0 && Number.isFinite(r.us) && Number.isFinite(r.productsUs)),
  runServing: (r) => assert.equal(r.paged.tokens, r.outputTokens),
  pagedSnapshots: (r) => {
    for (const s of r) {
      const holders = new Array(s.refcount.length).fill(0);
      for (const q of s.sequences) for (const b of q.table) holders[b]++;
      assert.deepEqual(holders, [...s.refcount], `step ${s.step}: refcounts`);
    }
  },
  runQuant: (r, [c]) => {
    assert.equal(r.fp32Bytes, 4 * c.rows * c.cols);
    assert.ok(close(r.bitsPerWeight, (8 * r.weightBytes) / (c.rows * c.cols), 1e-12));
  },
  runQuantGrid: (r, [c]) => {
    assert.equal(r.int4Counts.reduce((a, b) => a + b, 0), c.cols);
    assert.equal(r.nf4Counts.reduce((a, b) => a + b, 0), c.cols);
  },
  quantBlockBytes: (r, [format, values]) =>
    assert.equal(r.length, (values.length / 32) * { q8_0: 34, q4_0: 18, q4_1: 20 }[format]),
  quantRoundTrip: (r, [, n]) => assert.equal(r.outputBytes, 4 * n),
  runCheckpoint: (r) => assert.equal(r.peakBytes, r.formulaBytes, 'peak bytes = the documented formula'),
  runTraining: (r, [c]) => {
    assert.equal(r.losses.length, c.steps);
    for (const l of r.losses) assert.ok(Number.isFinite(l), `loss ${l}`);
  },
  runLora: (r, [c]) => {
    assert.deepEqual(r.map((row) => row.method), ['LoRA', 'QLoRA']);
    for (const row of r) {
      assert.equal(row.fullFinetuneBytes, 16 * row.parameters);
      assert.equal(row.losses.length, c.steps);
    }
  },
  kvCacheSizes: (r, [m, kvHeads, tokens]) => {
    assert.equal(r.length, kvHeads.length * tokens.length);
    for (const row of r)
      assert.equal(BigInt(row.bytes), 2n * BigInt(m.layers) * BigInt(row.kvHeads) * BigInt(row.tokens) *
        BigInt(m.dModel / m.heads) * 4n);
  },
  runFlashBackward: (r, [c]) => {
    assert.equal(r.flops, 3 * 4 * c.heads * (c.causal ? c.seq * (c.seq + 1) / 2 : c.seq * c.seq) * c.headDim);
    if (c.runNaive) assert.ok(r.maxRelDiff <= 1e-4, `maxRelDiff ${r.maxRelDiff}`);
  },
  runIoBytes: (r) => {
    for (const name of ['naive', 'naiveBackward', 'flash', 'flashBackward', 'lsh'])
      if (r[name].ran) {
        assert.equal(r[name].read, r[name].formulaRead, `${name} read`);
        assert.equal(r[name].written, r[name].formulaWritten, `${name} written`);
      }
  },
  runLsh: (r, [c]) => {
    assert.equal(r.lsh.peakBytes, c.heads * c.seq * c.headDim * 4 + r.scratchBytes);
    if (c.runExact) assert.ok(Number.isFinite(r.relativeError));
  },
  runLshErrors: (r, [c]) => assert.equal(r.length, 2 * c.buckets.length * c.rounds.length),
  lshRotations: (r, [heads, headDim, o]) =>
    assert.equal(r.length, heads * o.nRounds * headDim * Math.floor(o.nBuckets / 2)),  // 1 bucket: none
  lshBuckets: (r, [, heads, seq, , o]) => {
    assert.equal(r.length, heads * o.nRounds * seq);
    for (const b of r) assert.ok(b < o.nBuckets);
  },
  runPrecision: (r) => {
    const fp32 = r.rows[0];
    assert.equal(fp32.label, 'fp32');
    // Scores past fp32's range (a huge logitScale) give non-finite outputs, counted, and no error figure.
    if (fp32.attentionNonfinite > 0) assert.ok(Number.isNaN(fp32.attentionRelative));
    else assert.ok(fp32.attentionRelative <= 1e-4, `fp32 against float64: ${fp32.attentionRelative}`);
  },
  runRounding: (r, [c]) => {
    // every draw in a bin, or counted apart outside the format's normal range
    for (const f of r.formats) assert.equal(f.counts.reduce((a, b) => a + b, 0) + f.outsideNormalRange, c.values);
  },
  precisionRound: (r, [format, x]) => {
    if (format === 'fp32') assert.ok(Object.is(r.value, Math.fround(x)) || (Number.isNaN(r.value) && Number.isNaN(x)));
    else if (Number.isFinite(x) && Math.abs(x) < 60000) assert.ok(Math.abs(r.value - x) <= Math.abs(x) * 2 ** -7 + 2 ** -24);
  },
  runMoeSizes: (r, [m, experts, k]) => {
    assert.deepEqual(r.map((row) => row.experts), experts);
    r.forEach((row, i) => {
      assert.equal(row.weightBytes, 4 * row.parameters, 'tracked weight bytes = 4 · parameters (fp32)');
      assert.equal(row.activeBytes, 4 * row.activeParameters);
      // the E - k idle experts of every layer are two [d_model, d_ff] matrices each
      assert.equal(row.parameters - row.activeParameters, m.layers * (row.experts - k) * 2 * m.dModel * m.dFf);
      // one more expert per layer: its two matrices and a router column
      const e0 = r[0];
      assert.equal(row.parameters - e0.parameters, m.layers * (row.experts - e0.experts) * (2 * m.dModel * m.dFf + m.dModel), `row ${i}`);
    });
  },
  runMoeBalance: (r, [c]) => {
    for (const run of [r.without, r.with]) {
      assert.equal(run.losses.length, c.steps);
      assert.equal(run.perLayer.length, c.model.layers);
      // every token chooses top_k experts in every layer (counted before capacity)
      for (const layer of run.perLayer) assert.equal(layer.reduce((a, b) => a + b, 0), c.topK * r.evalTokens);
      run.total.forEach((t, e) => assert.equal(t, run.perLayer.reduce((a, layer) => a + layer[e], 0)));
      const mean = run.total.reduce((a, b) => a + b, 0) / c.experts;
      if (mean > 0) assert.ok(close(run.maxOverMean, Math.max(...run.total) / mean, 1e-9), `maxOverMean ${run.maxOverMean}`);
    }
    assert.equal(r.without.auxLossCoef, 0);
    assert.equal(r.with.auxLossCoef, Math.fround(c.auxLossCoef));
  },
  runMoeSpeed: (r, [m, experts, , , ]) => {
    assert.deepEqual(r.map((row) => row.experts), experts);
    // the dense model is d_ff · E wide: the same parameters but the E router columns per layer
    for (const row of r) assert.equal(row.moeParameters - row.denseParameters, m.layers * m.dModel * row.experts);
  },
  plan: (r, [, how]) => {
    const b = r.bytes;
    assert.ok(close(b.total, b.weights + b.kvCache + b.activations + b.gradients + b.optimizer + b.adapters, 1e-12));
    assert.ok(b.weightScales <= b.weights && r.paramsActive <= r.paramsTotal);
    assert.ok(close(b.optimizer, 8 * r.paramsTrainable, 1e-12), 'AdamW: m and v per trainable parameter');
    if (how.train === 'none') {
      assert.equal(r.paramsTrainable, 0);
      const m = r.model;
      const perValue = { fp32: 4, fp16: 2, bf16: 2 }[how.kv];
      const perSeq = how.paged ? Math.ceil(how.seq / how.block) * how.block : how.context || how.seq;
      if (perValue) assert.ok(close(b.kvCache, 2 * m.layers * m.kvHeads * (m.dModel / m.heads) * perValue * perSeq * how.batch,
        1e-12), `kvCache ${b.kvCache}`);
    }
    if (how.train === 'full') assert.equal(r.paramsTrainable, r.paramsTotal);
  },
  plannerPresets: (r) => assert.deepEqual(r, ['gpt2', 'gpt3-175b', 'llama-2-7b', 'llama-2-13b', 'llama-2-70b', 'mixtral-8x7b']),
  plannerPreset: (r, [name]) => {
    assert.equal(r.name, name);
    // published shapes: GPT-2 small 12 × 768, Mixtral 8 experts of which 2 active
    if (name === 'gpt2') assert.deepEqual([r.layers, r.dModel, r.heads, r.vocab], [12, 768, 12, 50257]);
    if (name === 'mixtral-8x7b') assert.deepEqual([r.layers, r.dModel, r.experts, r.topK], [32, 4096, 8, 2]);
  },
  plannerDevices: (r) => assert.deepEqual(r.map((d) => d.bytes), [8, 24, 80].map((g) => g * 2 ** 30)),
  runPlannerCheck: (r) => {
    assert.ok(r.allEqual, JSON.stringify(r.rows));
    for (const row of r.rows) if (row.measured !== null) assert.equal(row.measured, row.predicted, row.name);
  },
  runFlashTrace: (r, [c]) => {
    const tiles = (n, b) => Math.ceil(n / b);
    let steps = 0;  // causal: a Q tile visits the K/V tiles up to its last row
    for (let t = 0; t < tiles(c.seq, c.blockQ); t++)
      steps += c.causal ? tiles(Math.min(c.seq, (t + 1) * c.blockQ), c.blockKv) : tiles(c.seq, c.blockKv);
    assert.equal(r.steps.length, steps);
    assert.ok(close(r.scale, 1 / Math.sqrt(c.headDim), 1e-6));
    const shape = { heads: 1, kvHeads: 1, seqQ: c.seq, seqKv: c.seq, headDim: c.headDim };
    const expected = attentionReference(r.q, r.k, r.v, shape, c.causal);
    const scale = Math.max(1, ...Array.from(r.v, Math.abs));
    r.out.forEach((x, i) => assert.ok(Math.abs(x - expected[i]) <= 1e-4 * scale, `out[${i}] = ${x}, reference ${expected[i]}`));
  },
};

// ---- health -----------------------------------------------------------------------
const health = () => ({
  live: memlab.memoryStats().liveBytes,
  emval: memlab.core.count_emval_handles(),
  heap: memlab.heapBytes(),
});
let baseline;

// Exports the Embind module has that are not the API: Emscripten's runtime
// and memlab.mjs's plumbing.
const plumbing = new Set(['takeLastError', 'apiSchema']);

test('every export has a schema, an example and an oracle', () => {
  const bound = Object.keys(memlab.core).filter((k) => typeof memlab.core[k] === 'function' &&
    /^[a-z][A-Za-z0-9]*$/.test(k) && !plumbing.has(k) && !['run', 'count_emval_handles', 'get_first_emval'].includes(k));
  const described = Object.keys(schema.functions);
  assert.deepEqual(bound.filter((k) => !described.includes(k)), [], 'bound without a schema (use wasm::def)');
  assert.deepEqual(described.filter((k) => !examples[k]), [], 'exports without an example call in examples.mjs');
  assert.deepEqual(described.filter((k) => !oracles[k]), [], 'exports without an oracle in fuzz.test.mjs');
  for (const k of described) for (const args of examples[k]()) memlab[k](...args);
});

test(`the JS API survives seeded random and boundary calls (seed ${seed}, ${seconds} s)`, () => {
  const names = Object.keys(schema.functions);
  // The baseline, after every example ran once (lazily built statics exist).
  for (const k of names) for (const args of examples[k]()) memlab[k](...args);
  baseline = health();
  const start = performance.now();
  const tally = Object.fromEntries(names.map((k) => [k, { calls: 0, ok: 0, refused: 0 }]));
  let calls = 0, slowest = { ms: 0 };
  const first = only ?? 0;
  for (let i = first; only === null ? performance.now() - start < seconds * 1000 : i === only; i++) {
    const name = names[i % names.length];
    const g = generator(seed, i);
    const { args, done } = draw(name, g);
    const replay = `replay: MEMLAB_FUZZ_SEED=${seed} MEMLAB_FUZZ_CALL=${i} (${name}: ${done.mutations.join('; ')})`;
    const before = health();
    const t0 = performance.now();
    let result, error;
    try {
      result = memlab[name](...args);
    } catch (e) {
      error = e;
    }
    const ms = performance.now() - t0;
    if (ms > slowest.ms) slowest = { ms, call: replay };
    calls++;
    tally[name].calls++;
    try {
      if (error === undefined) {
        tally[name].ok++;
        assert.equal(done.typeBroken, null, `a call with ${done.typeBroken} broken succeeded`);
        oracles[name](result, args);
      } else {
        tally[name].refused++;
        assert.ok(error instanceof Error, `threw a non-Error: ${String(error)}`);
        if (done.callbackThrows && error.message === done.callbackThrows) {
          // the callback's own error, thrown after the call returned
        } else {
          const cited = citedName(error.message);
          assert.ok(cited !== null, `"${error.message}" does not read "<name> = <value>: expected <what>"`);
          if (done.typeBroken) {
            assert.ok(error.message.startsWith(`${done.typeBroken} = `) ||
              error.message.startsWith(`${done.typeBroken}.length = `) ||
              /^\[\d+\] = /.test(error.message.slice(done.typeBroken.length)),  // an element
            `"${error.message}" does not name ${done.typeBroken}`);
          } else {
            // (a product of sizes, "heads · seq²", "head_dim · n_buckets / 2", names each of them)
            const factors = cited.split(/\s*[·/]\s*/).map((f) => f.replace(/[²³]$/, ''))
              .filter((f) => !/^\d+$/.test(f));
            assert.ok(allowedWhole(cited) || factors.every((f) => allowed[name].has(f)),
              `"${error.message}" names ${cited}, not an argument or field of ${name}`);
          }
        }
      }
      const after = health();
      assert.equal(after.live, baseline.live, 'tracked live bytes back at the baseline');
      assert.equal(after.emval, baseline.emval, 'emval handles back at the baseline');
      if (error !== undefined) assert.equal(after.heap, before.heap, 'wasm heap bytes after a failed call');
    } catch (e) {
      e.message = `${e.message}\n  ${replay}\n  message: ${error?.message}`;
      throw e;
    }
  }
  const seconds_ = (performance.now() - start) / 1000;
  for (const k of names) for (const args of examples[k]()) memlab[k](...args);
  const end = health();
  assert.equal(end.live, baseline.live);
  assert.equal(end.emval, baseline.emval);
  const refused = names.reduce((a, k) => a + tally[k].refused, 0);
  console.log(`fuzz: seed ${seed}, ${calls} calls in ${seconds_.toFixed(1)} s over ${names.length} exports ` +
    `(${calls - refused} answered, ${refused} refused with a named argument); slowest ${slowest.ms.toFixed(0)} ms ` +
    `(${slowest.call}); heap ${baseline.heap} -> ${end.heap} bytes in use`);
  for (const k of names) console.log(`  ${k}: ${tally[k].calls} calls, ${tally[k].ok} answered, ${tally[k].refused} refused`);
});
