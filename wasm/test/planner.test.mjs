// The memory planner and the MoE experiments under node: the same exact figures
// as native core (bytes are 64-bit in core, doubles here: exact below 2^53), the
// tiny-GPT check equal to its prediction in wasm too, and errors that name the
// argument and leave the module working.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'node:test';
import { pathToFileURL } from 'node:url';

const dir = process.env.MEMLAB_WASM_DIR;
assert.ok(dir, 'set MEMLAB_WASM_DIR to the folder holding memlab.mjs (build/wasm/wasm)');
const { default: createMemlab } = await import(pathToFileURL(join(dir, 'memlab.mjs')).href);
const memlab = await createMemlab({ wasmBinary: readFileSync(join(dir, 'memlab-core.wasm')) });

const recipe = (over = {}) => ({
  weights: 'fp16', embeddings: '', kv: 'fp16', paged: false, block: 16, seq: 4096, context: 0,
  batch: 1, train: 'none', checkpoint: 'none', attention: 'flash', rank: 8, activationBytes: 2, ...over,
});

test('plan: Llama-2-7B in fp16 and q4_0, byte for byte as native', () => {
  const model = memlab.plannerPreset('llama-2-7b');
  assert.equal(model.kvHeads, 32);
  const fp16 = memlab.plan(model, recipe());
  assert.equal(fp16.paramsTotal, 6738415616);
  // fp16 weights but norms fp32: 2 bytes a parameter plus 2 more per norm value
  assert.equal(fp16.bytes.weights, 2 * 6738415616 + 2 * (2 * 32 * 4096 + 4096));
  assert.equal(fp16.bytes.kvCache, 2 * 32 * 32 * 128 * 4096 * 2); // 2 GiB
  const q4 = memlab.plan(model, recipe({ weights: 'q4_0', paged: true }));
  assert.equal(q4.bytes.weights, (6738415616 - 266240) / 32 * 18 + 4 * 266240);
  assert.equal(q4.kvTokens, 4096);
  assert.ok(q4.bytes.total < fp16.bytes.total);
  // 70B's 2^35 bytes of fp32 weights, beyond 32 bits, arrive exactly
  const big = memlab.plan(memlab.plannerPreset('llama-2-70b'), recipe({ weights: 'fp32' }));
  assert.equal(big.paramsTotal, 68976648192);
  assert.ok(big.bytes.weights > 2 ** 32);
  assert.deepEqual(memlab.plannerPresets(), ['gpt2', 'gpt3-175b', 'llama-2-7b', 'llama-2-13b', 'llama-2-70b', 'mixtral-8x7b']);
  assert.deepEqual(memlab.plannerDevices().map((d) => d.label), ['8 GB laptop', '24 GB GPU', '80 GB A100']);
});

test('runPlannerCheck: the tiny GPT measures what the planner predicts, in wasm too', () => {
  for (const [preset, over] of [['llama-2-7b', { weights: 'q4_0', paged: true }],
    ['mixtral-8x7b', { train: 'full', checkpoint: 'sqrt' }], ['llama-2-7b', { train: 'full', attention: 'naive' }],
    ['llama-2-70b', { train: 'qlora', checkpoint: 'sqrt' }]]) {
    const f = memlab.runPlannerCheck({ like: memlab.plannerPreset(preset), recipe: recipe(over), seed: 1 });
    assert.ok(f.allEqual, `${preset}: ${JSON.stringify(f.rows)}`);
    for (const row of f.rows) if (row.measured !== null) assert.equal(row.measured, row.predicted, `${preset} ${row.name}`);
    assert.ok(f.adapted.some((a) => a.startsWith('seq 4096 -> 128')));
    if (preset === 'mixtral-8x7b') assert.equal(f.model.experts, 8);
  }
});

test('planner errors name the argument; the module keeps working', () => {
  const model = memlab.plannerPreset('gpt2');
  assert.throws(() => memlab.plan(model, recipe({ weights: 'q3_k' })), /weights = q3_k: expected one of fp32, fp16, bf16/);
  assert.throws(() => memlab.plan(model, recipe({ seq: 1.5 })), /seq = 1.5: expected an integer/);
  assert.throws(() => memlab.plannerPreset('llama-3'), /preset = llama-3: expected one of gpt2/);
  assert.equal(memlab.plan(model, recipe({ kv: 'fp32', seq: 1024 })).bytes.kvCache, 75497472);
});

const tinyModel = { layers: 2, dModel: 32, heads: 4, kvHeads: 4, dFf: 64, maxSeq: 32, tied: true };

test('MoE: sizes, balance and speed from the core', () => {
  const sizes = memlab.runMoeSizes(tinyModel, [2, 4], 2);
  assert.equal(sizes.length, 2);
  for (const r of sizes) assert.equal(r.weightBytes, 4 * r.parameters);
  // doubling E adds 2 experts (2 · 32 · 64 each) and 2 router columns per layer
  assert.equal(sizes[1].parameters - sizes[0].parameters, 2 * 2 * (2 * 32 * 64 + 32));
  const steps = [];
  const balance = memlab.runMoeBalance({ model: tinyModel, experts: 4, topK: 2, capacityFactor: 0,
    auxLossCoef: 0.01, steps: 2, batch: 1, seq: 8, lr: 0.01, text: 'a mixture of experts, routed',
    evalText: '', seed: 1 }, (p) => steps.push(p));
  assert.deepEqual(steps.map((s) => s.done), [1, 2, 3, 4]);
  assert.equal(balance.without.total.reduce((a, b) => a + b), 2 * 2 * balance.evalTokens);
  const speed = memlab.runMoeSpeed(tinyModel, [2], 2, 2, 1);
  assert.equal(speed[0].moeParameters - speed[0].denseParameters, 2 * 32 * 2);
  assert.throws(() => memlab.runMoeSizes(tinyModel, [1], 2), /top_k = 2: expected in \[1, experts = 1\]/);
  assert.throws(() => memlab.runMoeSizes(tinyModel, [2.5], 2), /experts\[0\] = 2.5: expected an integer/);
});
