// fp16 and bf16 in the wasm module under node: the hand-worked roundings of the
// native tests, fp16's overflow and scaling first, bytes halved, the rounding
// histogram, and named errors.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'node:test';
import { pathToFileURL } from 'node:url';

const dir = process.env.MEMLAB_WASM_DIR;
assert.ok(dir, 'set MEMLAB_WASM_DIR to the folder holding memlab.mjs (build/wasm/wasm)');
const { default: createMemlab } = await import(pathToFileURL(join(dir, 'memlab.mjs')).href);
const memlab = await createMemlab({ wasmBinary: readFileSync(join(dir, 'memlab-core.wasm')) });

test('precisionRound: ties to even, fp16 overflow at 65520, NaN kept', () => {
  assert.deepEqual(memlab.precisionRound('bf16', 1 + 2 ** -8), { value: 1, bits: 0x3f80 });
  assert.deepEqual(memlab.precisionRound('bf16', 1 + 3 * 2 ** -8), { value: 1 + 2 ** -6, bits: 0x3f82 });
  assert.deepEqual(memlab.precisionRound('fp16', 65519), { value: 65504, bits: 0x7bff });
  assert.deepEqual(memlab.precisionRound('fp16', 65520), { value: Infinity, bits: 0x7c00 });
  assert.deepEqual(memlab.precisionRound('fp16', 2 ** -25), { value: 0, bits: 0 });
  assert.deepEqual(memlab.precisionRound('fp16', 3 * 2 ** -25), { value: 2 ** -23, bits: 2 });
  const nan = memlab.precisionRound('bf16', NaN);
  assert.ok(Number.isNaN(nan.value) && (nan.bits & 0x0040) !== 0);
});

const config = { seq: 64, headDim: 16, heads: 1, logitScale: 1, causal: false, repeats: 1, seed: 1 };

test('runPrecision: errors ordered by the formats, bytes halved', () => {
  const f = memlab.runPrecision(config);
  assert.deepEqual(f.rows.map((r) => r.label), ['fp32', 'bf16, fp32 sums', 'fp16, fp32 sums',
    'fp16, fp32 sums, scale first', 'bf16, bf16 sums', 'fp16, fp16 sums']);
  const [fp32, bf16, fp16] = f.rows;
  assert.ok(fp32.attentionRelative < 1e-6);
  assert.ok(fp16.attentionRelative < bf16.attentionRelative);
  assert.equal(2 * fp16.inputBytes, fp32.inputBytes);
  assert.ok(f.rows[4].matmulRelative > 4 * bf16.matmulRelative, 'bf16 sums are worse');
});

test('runPrecision: fp16 logits past 65504 give NaN outputs; scaling Q first does not', () => {
  const f = memlab.runPrecision({ ...config, logitScale: 6000 });
  assert.ok(f.maxAbsLogit > 65520);
  assert.ok(f.rows[2].attentionNonfinite > 0);
  assert.ok(Number.isNaN(f.rows[2].attentionRelative));
  assert.equal(f.rows[3].attentionNonfinite, 0);
  assert.equal(f.rows[1].attentionNonfinite, 0);
});

test('runRounding: every counted error within ±u', () => {
  const r = memlab.runRounding({ values: 5000, bins: 10, stddev: 1, seed: 1 });
  assert.deepEqual(r.formats.map((h) => h.format), ['fp16', 'bf16']);
  for (const h of r.formats) {
    assert.equal(h.counts.reduce((a, b) => a + b, 0) + h.outsideNormalRange, 5000);
    assert.ok(h.maxErrorInU <= 1 && h.maxErrorInU > 0.9, `${h.format}: ${h.maxErrorInU}`);
  }
});

test('bad input is named, and the module keeps working', () => {
  assert.throws(() => memlab.precisionRound('fp8', 1), { message: 'format = fp8: expected fp32, fp16 or bf16' });
  assert.throws(() => memlab.runPrecision({ ...config, logitScale: 0 }),
    { message: 'logit_scale = 0: expected a positive finite number' });
  assert.throws(() => memlab.runPrecision({ ...config, seq: 2.5 }), { message: 'config.seq = 2.5: expected an integer' });
  assert.equal(memlab.runPrecision(config).rows.length, 6);
});
