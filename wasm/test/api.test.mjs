// api.test.mjs — the JS API under hostile calls (issue 15): each numbered
// defect refused now with an Error naming the argument; the same messages as
// native core and the CLI (tests/core/limits_test.cpp, tools/CMakeLists.txt);
// after every class of failure every export still works; and a storm of
// failing calls leaves the emval handles, the tracker's live bytes and the wasm
// heap's bytes in use exactly where they were.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'node:test';
import { pathToFileURL } from 'node:url';
import { examples, floats, model, trainedWeights } from './examples.mjs';

const dir = process.env.MEMLAB_WASM_DIR;
assert.ok(dir, 'set MEMLAB_WASM_DIR to the folder holding memlab.mjs (build/wasm/wasm)');
const { default: createMemlab } = await import(pathToFileURL(join(dir, 'memlab.mjs')).href);
const memlab = await createMemlab({ wasmBinary: readFileSync(join(dir, 'memlab-core.wasm')) });

const names = Object.keys(memlab.schema.functions);
const call = (name, i = 0) => memlab[name](...examples[name]()[i]);
// Every export answers its example call (what a dead module cannot).
function everyExportWorks(after) {
  for (const name of names)
    for (const args of examples[name]())
      assert.doesNotThrow(() => memlab[name](...args), `${name} after ${after}`);
}
const health = () => ({ live: memlab.memoryStats().liveBytes, emval: memlab.core.count_emval_handles(),
  heap: memlab.heapBytes() });
const refuses = (fn, message) => assert.throws(fn, (e) => e instanceof Error && (message instanceof RegExp
  ? message.test(e.message) : e.message === message), `expected ${message}`);

const attention = { seq: 16, headDim: 4, heads: 2, kvHeads: 1, causal: true, blockQ: 4, blockKv: 8, repeats: 1,
  seed: 1, runNaive: true };
const generation = { model, modelSeed: 1, prompt: 'ab', tokens: 3, useCache: true,
  sampler: { temperature: 0.8, topK: 5, seed: 1 } };
const checkpoint = { layers: 4, batch: 2, width: 4, hidden: 8, repeats: 1, policy: 'sqrt', timeline: false };
const training = examples.runTraining()[0][0];
const quant = examples.runQuant()[0][0];
const serving = examples.runServing()[0][0];
const shape = { heads: 2, kvHeads: 1, seqQ: 5, seqKv: 7, headDim: 4 };

// A model file whose size check passed in wasm32 (4 · (2^30 + 1108) + 40
// bytes wrap to 4472): 512 layers of d_model 1, d_ff 2^20 - 3, max_seq 851.
function wrappedModelFile() {
  const bytes = new Uint8Array(4472);
  bytes.set(new TextEncoder().encode('MLABGPT1'));
  bytes.set(new Uint8Array(new Uint32Array([512, 1, 1, 1, 2 ** 20 - 3, 851, 1, 256]).buffer), 8);
  return bytes;
}

// Failure classes, each a list of calls that must fail as stated.
const failures = {
  'a wrapping size (defect 1)': [
    [() => memlab.flashAttention(new Float32Array(0), new Float32Array(0), new Float32Array(0),
      { heads: 1, kvHeads: 1, seqQ: 65536, seqKv: 65536, headDim: 65536 }, false, 64, 64),
    'q.length = 0: expected shape.heads · shape.seqQ · shape.headDim = 4294967296'],
    [() => memlab.runAttention({ ...attention, seq: 32768, headDim: 32768, heads: 4, kvHeads: 4 }),
      'seq = 32768, head_dim = 32768, heads = 4: expected at most 1.00 GiB held by one call ' +
      '(q, k, v, outputs and scores: 128 GiB)'],
    [() => memlab.runCheckpoint({ ...checkpoint, width: 32768, hidden: 32768 }),
      'layers = 4, width = 32768, hidden = 32768: expected at most 1.00 GiB held by one call ' +
      '(the stack\'s weights and gradients: 64.0 GiB)'],
    [() => memlab.runGeneration({ ...generation, model: { ...model, dModel: 4, heads: 1, kvHeads: 1, dFf: 4,
      maxSeq: 2 ** 28 } }, undefined),
    'layers = 1, d_model = 4, d_ff = 4, max_seq = 268435456: expected at most 1.00 GiB held by one call ' +
      '(the model\'s fp32 weights: 4.00 GiB)'],
    [() => memlab.runGenerationFrom(wrappedModelFile(), examples.runGenerationFrom()[0][1], undefined),
      'file size = 4472: expected exactly 4294971768 bytes for layers 512, d_model 1, heads 1, kv_heads 1, ' +
      'd_ff 1048573, max_seq 851, tied (truncated)'],
    [() => memlab.runQuant({ ...quant, rows: 32768, cols: 32768 }),
      'rows = 32768, cols = 32768: expected at most 1.00 GiB held by one call (the weights, quantized and ' +
      'dequantized: 20.0 GiB)'],
  ],
  'work past the limit (defect 4)': [
    [() => memlab.runAttention({ ...attention, repeats: 1e7 }), 'repeats = 10000000: expected an integer in [1, 100]'],
    [() => memlab.runAttention({ ...attention, seq: 4096, headDim: 64, heads: 4, kvHeads: 4, causal: false,
      blockQ: 64, blockKv: 64, repeats: 100 }),
    'repeats = 100, seq = 4096, head_dim = 64, heads = 4: expected at most 2.7e+11 flops of work in one call ' +
      '(runs of flash and naive attention: 3.8e+12)'],
    [() => memlab.runTraining({ ...training, steps: 1e7 }, undefined),
      'steps = 10000000, batch = 1, seq = 8, layers = 1, d_model = 16, d_ff = 32, max_seq = 8: expected at most ' +
      '2.7e+11 flops of work ' +
      'in one call (the training steps: 4e+12)'],
    [() => memlab.runServing({ ...serving, stream: { ...serving.stream, requests: 1e7 } }, 4),
      'requests = 10000000, max_seq = 16: expected at most 1.00 GiB held by one call (the requests and ' +
      'outcomes: 1.01 GiB)'],
    [() => memlab.runCacheDecode({ tokens: 1e9, heads: 1, kvHeads: 1, headDim: 4, repeats: 1, seed: 1 }),
      'tokens = 1000000000, heads = 1, head_dim = 4: expected at most 1.00 GiB held by one call (every ' +
      'step\'s q, k, v and the cache: 879 GiB)'],
    [() => memlab.timeWeightRead(model, 1, 1e7), 'repeats = 10000000: expected an integer in [1, 100]'],
    [() => memlab.runServing({ ...serving, stream: { ...serving.stream, rate: 1e-9 } }, 4),
      'rate = 1e-09: expected at least 9.31323e-09 for requests = 6 to arrive within 536870912 steps'],
  ],
  'a value of the wrong type (defect 5, 7)': [
    [() => memlab.runServing({ ...serving, stream: { ...serving.stream, rate: '0.5' } }, 4),
      'config.stream.rate = "0.5": expected a finite number'],
    ...[null, [], undefined, {}, Infinity].map((t) => [
      () => memlab.runGeneration({ ...generation, sampler: { ...generation.sampler, temperature: t } }, undefined),
      `config.sampler.temperature = ${t === null ? 'null' : Array.isArray(t) ? '[]' : t === undefined ? 'undefined'
        : typeof t === 'object' ? '{…}' : 'Infinity'}: expected a finite number`]),
    [() => memlab.runAttention({ ...attention, causal: 'no' }), 'config.causal = "no": expected true or false'],
    [() => memlab.runTraining({ ...training, lr: undefined }, undefined), 'config.lr = undefined: expected a finite number'],
    [() => memlab.runLora({ ...examples.runLora()[0][0], alpha: NaN }), 'config.alpha = NaN: expected a finite number'],
    [() => memlab.runQuant({ ...quant, format: 5 }), 'config.format = 5: expected a string'],
    [() => memlab.runGeneration(0, undefined),
      'config = 0: expected an object with the fields of GenerationConfig: model, modelSeed, prompt, tokens, ' +
      'useCache, sampler'],
    [() => memlab.flashAttention(null, floats(28), floats(28), shape, false, 4, 4), 'q = null: expected a Float32Array'],
    [() => memlab.runAttention({ ...attention, sequence: 64 }),
      'config.sequence = 64: expected one of the fields of AttentionConfig: seq, headDim, heads, kvHeads, causal, ' +
      'blockQ, blockKv, repeats, seed, runNaive'],
    [() => memlab.naiveAttention(floats(40), floats(28), floats(28), { heads: 2 }, false),
      'shape.kvHeads = undefined: expected an integer'],
    [() => memlab.runGenerationFrom(new Uint8Array(8 << 20), { prompt: 'a' }, undefined),
      'config.tokens = undefined: expected an integer'],
    [() => memlab.kvCacheBytes(model, 8, 9), 'arguments.length = 3: expected 2 (model, tokens)'],
    [() => memlab.runGeneration(generation, 5), 'onToken = 5: expected a function or undefined'],
  ],
  'a value core refuses (defect 6, 8)': [
    [() => { const q = floats(40); q[0] = NaN; return memlab.flashAttention(q, floats(28), floats(28), shape, false, 4, 4); },
      'q[0] = nan: expected a finite value'],
    [() => { const k = floats(28); k[3] = Infinity; return memlab.naiveAttention(floats(40), k, floats(28), shape, false); },
      'k[3] = inf: expected a finite value'],
    [() => memlab.runCheckpoint({ ...checkpoint, repeats: 0 }), 'repeats = 0: expected an integer in [1, 100]'],
    [() => memlab.runCheckpoint({ ...checkpoint, repeats: -1 }), 'repeats = -1: expected an integer in [1, 100]'],
    [() => memlab.runQuant({ ...quant, group: -1 }), 'group = -1: expected a positive integer'],
    [() => memlab.runQuant({ ...quant, granularity: '12' }),
      'config.granularity = "12": expected one of "tensor", "channel", "group"'],
    [() => memlab.runAttention({ ...attention, kvHeads: 3 }), 'kv_heads = 3: expected a divisor of heads = 2'],
    [() => {  // layer 0's norm1[2]: after the header and the embeddings [256 + max_seq, d_model]
      const w = trainedWeights.slice(), header = new DataView(w.buffer);
      const dModel = header.getUint32(12, true), maxSeq = header.getUint32(28, true);
      header.setFloat32(40 + 4 * ((256 + maxSeq) * dModel + 2), NaN, true);
      return memlab.runGenerationFrom(w, examples.runGenerationFrom()[0][1], undefined);
    }, 'layers[0].norm1[2] = nan: expected a finite value'],
  ],
  'a callback that throws (defect 3)': [
    [() => memlab.runGeneration(generation, (n) => { if (n === 2) throw new Error('stop at 2'); }), 'stop at 2'],
    [() => memlab.runTraining(training, ({ step }) => { throw new RangeError(`step ${step}`); }), 'step 1'],
    [() => memlab.runGenerationFrom(trainedWeights, examples.runGenerationFrom()[0][1], () => { throw new Error('x'); }), 'x'],
  ],
};

test('issue 15\'s defects are refused with the argument, its value and what was expected', () => {
  for (const list of Object.values(failures))
    for (const [fn, message] of list) refuses(fn, message);
  // defect 2: sizes in 64 bits, exact (2 · 2 layers · 2 KV heads · 16 · 4 bytes a token)
  const m2 = { layers: 2, dModel: 32, heads: 2, kvHeads: 2, dFf: 64, maxSeq: 64, tied: true };
  assert.equal(memlab.kvCacheBytes(m2, 2 ** 30), 549755813888);
  assert.equal(memlab.kvCacheBytes(m2, 1e9), 512000000000);
  // defect 8: runGenerationFrom takes no model (its config comes from the file)
  assert.equal(memlab.runGenerationFrom(trainedWeights, { prompt: 'ab', tokens: 4, useCache: true,
    sampler: { temperature: 0, topK: 0, seed: 1 } }, undefined).config.model.dModel, 64);
  // a callback's own error is thrown as is, after the call returned
  assert.throws(() => memlab.runTraining(training, () => { throw new RangeError('mine'); }), RangeError);
});

for (const [kind, list] of Object.entries(failures))
  test(`after ${kind}, every export still works`, () => {
    for (const [fn] of list) {
      assert.throws(fn);
      everyExportWorks(kind);
    }
  });

test('a storm of failing calls leaves emval handles, tracked bytes and the wasm heap at their baseline', () => {
  for (const name of names) call(name);  // lazily built statics exist before the baseline
  for (const list of Object.values(failures)) for (const [fn] of list) assert.throws(fn);
  const before = health();
  let failed = 0;
  for (let round = 0; round < 20; round++)
    for (const list of Object.values(failures))
      for (const [fn] of list) {
        assert.throws(fn);
        failed++;
      }
  const after = health();
  assert.deepEqual(after, before, `after ${failed} failed calls`);
  assert.ok(failed >= 20 * 40, `${failed} failed calls`);
  everyExportWorks('the storm');
  assert.deepEqual(health(), after, 'and the examples leave nothing either');
});

test('the schema describes every export, and the validator is the one the calls go through', () => {
  const { functions, objects, limits } = memlab.schema;
  assert.equal(limits.callBytes, 2 ** 30);
  assert.equal(limits.callWork, 2 ** 38);
  assert.equal(limits.repeats, 100);
  assert.deepEqual(functions.kvCacheBytes, [{ name: 'model', kind: 'object', type: 'GptConfig' },
    { name: 'tokens', kind: 'integer', min: -(2 ** 31), max: 2 ** 31 - 1 }]);
  assert.deepEqual(objects.Sampling.map((f) => [f.name, f.kind]),
    [['temperature', 'number'], ['topK', 'integer'], ['seed', 'integer']]);
  assert.deepEqual(objects.Sampling[2], { name: 'seed', kind: 'integer', min: 0, max: 2 ** 32 - 1 });
  assert.deepEqual(functions.quantBlockBytes[0].values, ['q8_0', 'q4_0', 'q4_1']);
  for (const name of names) assert.ok(functions[name].every((p) => p.name && p.kind), name);
});
