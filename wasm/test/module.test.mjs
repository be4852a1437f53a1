// The wasm module under node: one experiment, typed arrays in and out against a
// plain JS reference, and errors that arrive as Error objects and leave the module
// working. Run by ctest (label wasm) with MEMLAB_WASM_DIR set to the build output.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'node:test';
import { pathToFileURL } from 'node:url';
import { attentionReference } from './examples.mjs';

const dir = process.env.MEMLAB_WASM_DIR;
assert.ok(dir, 'set MEMLAB_WASM_DIR to the folder holding memlab.mjs (build/wasm/wasm)');
const { default: createMemlab } = await import(pathToFileURL(join(dir, 'memlab.mjs')).href);
// Emscripten 3.1.6 would fetch() a file path under node: hand it the bytes.
const memlab = await createMemlab({ wasmBinary: readFileSync(join(dir, 'memlab-core.wasm')) });

const config = {
  seq: 200, headDim: 32, heads: 4, kvHeads: 2, causal: false,
  blockQ: 64, blockKv: 64, repeats: 2, seed: 3, runNaive: true,
};

test('runAttention reports the same exact figures as native core', () => {
  const f = memlab.runAttention(config);
  assert.ok(f.naive.ran && f.flash.ran);
  assert.ok(f.maxAbsDiff <= 1e-5, `max abs diff ${f.maxAbsDiff} > 1e-5`);
  assert.equal(f.kvBytes, 2 * 2 * 200 * 32 * 4);
  assert.equal(f.flops, 4 * 4 * 200 * 200 * 32);
  // The tracker's figures are platform-independent: the same formulas as
  // tests/core/attention_experiment_test.cpp.
  assert.equal(f.naive.peakBytes, (2 * 4 * 200 * 200 + 4 * 200 * 32) * 4);
  assert.equal(f.flash.peakBytes, (4 * 200 * 32 + 32 * 64 + 64 * 64 + 2 * 64) * 4);
  assert.ok(f.flash.medianMs > 0 && f.flash.gflops > 0);
});

test('flashAttention and naiveAttention take and return Float32Arrays', () => {
  const shape = { heads: 4, kvHeads: 1, seqQ: 37, seqKv: 37, headDim: 9 };
  let seed = 12345;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1;
  const make = (n) => Float32Array.from({ length: n }, random);
  const q = make(4 * 37 * 9), k = make(37 * 9), v = make(37 * 9);
  for (const causal of [false, true]) {
    const expected = attentionReference(q, k, v, shape, causal);
    const flash = memlab.flashAttention(q, k, v, shape, causal, 16, 8);
    const naive = memlab.naiveAttention(q, k, v, shape, causal);
    assert.ok(flash instanceof Float32Array && flash.length === expected.length);
    for (const [name, out] of [['flash', flash], ['naive', naive]]) {
      const diff = Math.max(...Array.from(out, (x, i) => Math.abs(x - expected[i])));
      assert.ok(diff <= 1e-5, `${name} (causal ${causal}) differs from the reference by ${diff}`);
    }
  }
});

test('runCacheDecode: the exercise\'s decoding loop in the core, exact bytes as native', () => {
  const f = memlab.runCacheDecode({ tokens: 100, heads: 4, kvHeads: 2, headDim: 16, repeats: 2, seed: 1 });
  assert.equal(f.cacheBytes, 2 * 2 * 100 * 16 * 4);
  assert.equal(f.run.peakBytes, f.cacheBytes + (2 * 4 * 16 + 64 + 2) * 4); // as in kv_cache_experiment_test.cpp
  assert.ok(f.maxAbsDiff <= 1e-5, `maxAbsDiff = ${f.maxAbsDiff}`);
  assert.throws(() => memlab.runCacheDecode({ ...f.config, kvHeads: 3 }),
    { message: 'kv_heads = 3: expected a divisor of heads = 4' });
});

test('a C++ error becomes a JS Error with its message, and the module keeps working', () => {
  const live = memlab.memoryStats().liveBytes;
  assert.throws(() => memlab.runAttention({ ...config, kvHeads: 3 }),
    (e) => e instanceof Error && e.message === 'kv_heads = 3: expected a divisor of heads = 4');
  assert.throws(() => memlab.runAttention({ ...config, seq: -5 }),
    { message: 'seq = -5: expected a positive integer' });
  assert.throws(() => memlab.runAttention({ ...config, blockKv: 0 }),
    { message: 'block_kv = 0: expected a positive integer' });
  const shape = { heads: 2, kvHeads: 2, seqQ: 3, seqKv: 3, headDim: 4 };
  assert.throws(() => memlab.flashAttention(new Float32Array(5), new Float32Array(24), new Float32Array(24), shape, false, 4, 4),
    { message: 'q.length = 5: expected shape.heads · shape.seqQ · shape.headDim = 24' });
  assert.equal(memlab.memoryStats().liveBytes, live, 'the failed calls freed what they allocated');

  const f = memlab.runAttention(config);
  assert.ok(f.maxAbsDiff <= 1e-5);
});

test('integers from JS are checked, not truncated or wrapped, in fields and in arguments', () => {
  // Embind alone would run layers 1.5 as 1, 2^32 + 1 as 1 and "2" as 2, silently.
  const model = { layers: 2, dModel: 32, heads: 2, kvHeads: 2, dFf: 64, maxSeq: 64, tied: true };
  const bytes = 2 * 2 * 2 * 16 * 4 * 8; // K and V, 2 layers, 2 kv heads, head_dim 16, fp32, 8 tokens
  assert.equal(memlab.kvCacheBytes(model, 8), bytes);
  const fails = (call, message) => assert.throws(call, (e) => e instanceof Error && e.message === message,
    `expected "${message}"`);
  fails(() => memlab.kvCacheBytes({ ...model, layers: 1.5 }, 8), 'model.layers = 1.5: expected an integer');
  fails(() => memlab.kvCacheBytes({ ...model, dModel: '32' }, 8), 'model.dModel = "32": expected an integer');
  fails(() => memlab.kvCacheBytes({ ...model, heads: NaN }, 8), 'model.heads = NaN: expected an integer');
  fails(() => memlab.kvCacheBytes({ ...model, layers: 2 ** 32 + 2 }, 8),
    'model.layers = 4294967298: expected an integer in [-2147483648, 2147483647]');
  fails(() => memlab.kvCacheBytes(model, 8.5), 'tokens = 8.5: expected an integer');
  fails(() => memlab.kvCacheBytes(model, null), 'tokens = null: expected an integer');
  fails(() => memlab.timeWeightRead(model, -1, 1), 'modelSeed = -1: expected an integer in [0, 4294967295]');
  fails(() => memlab.flashAttention(new Float32Array(24), new Float32Array(24), new Float32Array(24),
    { heads: 2, kvHeads: 2, seqQ: 3, seqKv: 3, headDim: 4 }, false, 4, Infinity),
  'blockKv = Infinity: expected an integer');
  // a field nested two levels down, and the first of two bad fields
  const generation = { model, modelSeed: 1, prompt: 'ab', tokens: 2, useCache: true,
    sampler: { temperature: 1, topK: 5, seed: 1 } };
  fails(() => memlab.runGeneration({ ...generation, sampler: { temperature: 1, topK: 2.5, seed: -1 } }, undefined),
    'config.sampler.topK = 2.5: expected an integer');
  // a missing field is named, before Embind sees anything (it would have leaked
  // what it converted so far)
  fails(() => memlab.runGeneration({ ...generation, model: { ...model, layers: 0.5 }, sampler: {} }, undefined),
    'config.model.layers = 0.5: expected an integer');
  fails(() => memlab.runGeneration({ ...generation, sampler: {} }, undefined),
    'config.sampler.temperature = undefined: expected a finite number');
  assert.equal(memlab.kvCacheBytes(model, 8), bytes);
  assert.deepEqual(memlab.runGeneration(generation, undefined).tokens.length, 2);
});

test('timeWeightRead: the bytes a decoding step reads, counted by hand; bad input named', () => {
  // 4 layers of d_model 128, d_ff 512, MHA: per layer two norms (256), wq wk wv wo
  // (4 · 128²) and w1 w2 (2 · 128 · 512); then the final norm and the tied head
  // (256 · 128). The position table is not multiplied, so not counted.
  const model = { layers: 4, dModel: 128, heads: 4, kvHeads: 4, dFf: 512, maxSeq: 512, tied: true };
  const floats = 4 * (256 + 4 * 128 * 128 + 2 * 128 * 512) + 128 + 256 * 128;
  const read = memlab.timeWeightRead(model, 1, 3);
  assert.equal(read.bytes, 4 * floats);
  assert.ok(read.us > 0 && Number.isFinite(read.us), `us = ${read.us}`);
  assert.ok(read.productsUs > 0 && Number.isFinite(read.productsUs), `productsUs = ${read.productsUs}`);
  assert.throws(() => memlab.timeWeightRead(model, 1, 0), { message: 'repeats = 0: expected an integer in [1, 100]' });
  assert.throws(() => memlab.timeWeightRead({ ...model, kvHeads: 3 }, 1, 1),
    { message: 'kv_heads = 3: expected a divisor of heads = 4' });
  assert.equal(memlab.timeWeightRead(model, 1, 1).bytes, 4 * floats, 'still working after errors');
});

test('kvCacheSizes: the whole MHA/GQA/MQA table in one call, bytes counted by hand', () => {
  const model = { layers: 2, dModel: 32, heads: 4, kvHeads: 4, dFf: 64, maxSeq: 64, tied: true };
  const rows = memlab.kvCacheSizes(model, [4, 2, 1], [8, 512]);
  // K and V · 2 layers · kv_heads · tokens · head_dim 8 · 4 bytes, kv_heads outer
  assert.deepEqual(rows, [4, 2, 1].flatMap((kvHeads) => [8, 512].map((tokens) =>
    ({ kvHeads, tokens, bytes: 2 * 2 * kvHeads * tokens * 8 * 4 }))));
  assert.equal(rows[0].bytes, memlab.kvCacheBytes(model, 8));
  assert.throws(() => memlab.kvCacheSizes(model, [3], [8]), { message: 'kv_heads = 3: expected a divisor of heads = 4' });
  assert.throws(() => memlab.kvCacheSizes(model, [4], [8, 1.5]), { message: 'tokens[1] = 1.5: expected an integer' });
  assert.throws(() => memlab.kvCacheSizes(model, 4, [8]), { message: 'kvHeads = 4: expected an array of integers' });
  assert.throws(() => memlab.kvCacheSizes(model, [1], [0, 8]), { message: 'tokens = 0: expected a positive integer' });
});

test('runCheckpoint, runLora, runTraining: the core experiments\' exact figures in wasm', () => {
  const a = 4 * 4 * 8, h = 4 * 4 * 24; // batch 4, width 8, hidden 24
  const base = { layers: 16, batch: 4, width: 8, hidden: 24, repeats: 1, timeline: false };
  const none = memlab.runCheckpoint({ ...base, policy: 'none' });
  assert.equal(none.peakBytes, 17 * (a + h));
  const sqrt = memlab.runCheckpoint({ ...base, policy: 'sqrt', timeline: true });
  assert.equal(sqrt.peakBytes, 8 * a + 5 * h);
  assert.equal(sqrt.formulaBytes, sqrt.peakBytes);
  assert.deepEqual(sqrt.checkpoints, [0, 4, 8, 12]);
  assert.equal(sqrt.recomputedBlocks, 12);
  assert.equal(sqrt.loss, none.loss);
  assert.equal(Math.max(...sqrt.timeline.map(([, bytes]) => bytes)), sqrt.peakBytes);
  assert.throws(() => memlab.runCheckpoint({ ...base, policy: 'every:0' }),
    { message: 'k = 0: expected a positive number of blocks per segment' });

  const model = { layers: 2, dModel: 16, heads: 4, kvHeads: 2, dFf: 32, maxSeq: 24, tied: true };
  const [lora, qlora] = memlab.runLora({ model, rank: 4, alpha: 8, steps: 0, batch: 4, seq: 32, text: '' });
  assert.equal(lora.method, 'LoRA');
  assert.equal(qlora.method, 'QLoRA');
  assert.equal(lora.adapterParameters, 2 * (2 * 4 * 32 + 2 * 4 * 24)); // as in train_experiment_test.cpp
  assert.equal(lora.fullFinetuneBytes, 16 * lora.parameters);
  assert.equal(lora.baseBytes, 4 * lora.parameters);
  assert.ok(qlora.totalBytes < lora.totalBytes);
  assert.throws(() => memlab.runLora({ model, rank: 0, alpha: 8, steps: 0, batch: 4, seq: 32, text: '' }),
    { message: 'rank = 0: expected in [1, 8] (the smallest dimension of wq wk wv wo)' });

  const text = 'the cat sat on the mat. the dog sat on the log. '.repeat(3);
  const steps = [];
  const t = memlab.runTraining({ model: { ...model, maxSeq: 16 }, steps: 3, batch: 2, seq: 8, lr: 0.01, seed: 1, text,
    prompt: 'the ', sampleTokens: 100, sampler: { temperature: 0, topK: 0, seed: 1 } }, (p) => steps.push(p.step));
  assert.deepEqual(steps, [1, 2, 3]);
  assert.equal(t.losses.length, 3);
  assert.equal(t.sample.length, 16, 'the prompt, then the 12 positions max_seq leaves');
  assert.deepEqual(t.sample.slice(0, 4), [...'the '].map((c) => c.charCodeAt(0)));
  assert.throws(() => memlab.runTraining({ model, steps: 1, batch: 2, seq: 8, lr: 0.01, seed: 1, text: 'short',
    prompt: 'the ', sampleTokens: 10, sampler: { temperature: 0, topK: 0, seed: 1 } }, undefined),
  { message: 'text = 5: expected more than seq + 1 = 9 bytes' });
});

test('the page\'s shell names no core function: only experiment files (and their shared lib) do', () => {
  // Adding an experiment is one file in web/src/experiments (plus its binding):
  // the worker, the client, the section shell and the registry know none by name.
  const web = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..', '..', 'web', 'src');
  const shell = ['core/worker.js', 'core/client.js', 'main.js', 'registry.js', 'ui/section.js',
    'lib/sweep.js', 'lib/warm-up.js'];
  const names = Object.keys(memlab.schema.functions);
  assert.ok(names.includes('runAttention') && names.includes('kvCacheSizes'));
  for (const file of shell) {
    const code = readFileSync(join(web, file), 'utf8').replace(/\/\/.*$/gm, '').replace(/\/\*[\s\S]*?\*\//g, '');
    const named = names.filter((name) => new RegExp(`\\b${name}\\b`).test(code));
    assert.deepEqual(named, [], `web/src/${file} names ${named.join(', ')}`);
  }
});
