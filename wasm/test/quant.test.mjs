// Quantization in the wasm module under node: the same exact storage figures as
// native core, ggml's bytes for a hand-worked block (fp16 conversion and nibble
// order in wasm), the wasm SIMD kernels against their plain references, and
// errors that arrive as Error objects and leave the module working.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'node:test';
import { pathToFileURL } from 'node:url';

const dir = process.env.MEMLAB_WASM_DIR;
assert.ok(dir, 'set MEMLAB_WASM_DIR to the folder holding memlab.mjs (build/wasm/wasm)');
const { default: createMemlab } = await import(pathToFileURL(join(dir, 'memlab.mjs')).href);
const memlab = await createMemlab({ wasmBinary: readFileSync(join(dir, 'memlab-core.wasm')) });

const base = { rows: 64, cols: 256, format: 'q4_0', granularity: 'group', group: 128,
  distribution: 'gaussian', runMatvec: true, repeats: 1, seed: 1 };
const n = 64 * 256;
// Exact bytes per format on [64, 256], as tests/core/quant_experiment_test.cpp counts them.
const expectedBytes = {
  fp32: n * 4, fp16: n * 2,
  int8_sym: n + 128 * 4, int8_asym: n + 128 * 5,   // group 128: 2 groups per row
  int4_sym: n / 2 + 128 * 4, int4_asym: n / 2 + 128 * 5,
  q8_0: (n / 32) * 34, q4_0: (n / 32) * 18, q4_1: (n / 32) * 20,
  nf4: n / 2 + (n / 64) * 4, nf4_dq: n / 2 + n / 64 + 4 * Math.ceil(n / 64 / 256) + 4,
};

test('quantFormats lists every format', () => {
  assert.deepEqual(memlab.quantFormats(), Object.keys(expectedBytes));
});

test('runQuant: exact storage, and every wasm kernel equals its plain reference', () => {
  for (const format of memlab.quantFormats()) {
    const f = memlab.runQuant({ ...base, format });
    assert.equal(f.weightBytes, expectedBytes[format], `${format}: weight bytes`);
    assert.equal(f.bitsPerWeight, (8 * expectedBytes[format]) / n, `${format}: bits per weight`);
    assert.ok(f.matvec.ran && f.fp32Matvec.ran, `${format}: the products ran`);
    assert.ok(f.kernelRelDiff <= 1e-5, `${format}: kernel differs from its reference by ${f.kernelRelDiff}`);
    assert.ok(format === 'fp32' ? f.error.relFrobenius === 0 : f.error.relFrobenius < 0.15,
      `${format}: relative error ${f.error.relFrobenius}`);
  }
});

test('runQuant: the ggml block kernels over 1..9 blocks per row (four at a time, then the rest)', () => {
  for (const format of ['q8_0', 'q4_0', 'q4_1'])
    for (let blocks = 1; blocks <= 9; ++blocks) {
      const f = memlab.runQuant({ ...base, rows: 5, cols: 32 * blocks, format, repeats: 1 });
      assert.ok(f.kernelRelDiff <= 1e-5,
        `${format}, ${blocks} blocks: kernel differs from its reference by ${f.kernelRelDiff}`);
    }
});

test('quantBlockBytes: a hand-worked Q4_0 block has ggml\'s bytes in wasm too', () => {
  // x[j] = 0.5 · (j % 16 - 8): the first largest magnitude is -4, d = -4 / -8 = 0.5
  // (fp16 0x3800, little-endian 00 38); q = j % 16; byte j = q[j] | q[j + 16] << 4.
  const x = Float32Array.from({ length: 32 }, (_, j) => 0.5 * ((j % 16) - 8));
  const bytes = memlab.quantBlockBytes('q4_0', x);
  assert.ok(bytes instanceof Uint8Array);
  assert.deepEqual([...bytes], [0x00, 0x38, ...Array.from({ length: 16 }, (_, j) => 0x11 * j)]);
  // All zeros: d = 0 / -8 = -0 (fp16 0x8000), q = 8 everywhere.
  assert.deepEqual([...memlab.quantBlockBytes('q4_0', new Float32Array(32))], [0x00, 0x80, ...Array(16).fill(0x88)]);
  // Q8_0 with amax 63.5: d = 0.5 (00 38), qs = round(2x) away from zero.
  const y = Float32Array.from({ length: 32 }, (_, j) => (j === 31 ? 63.5 : j - 16 + 0.25));
  const q8 = [...memlab.quantBlockBytes('q8_0', y)];
  assert.deepEqual(q8.slice(0, 2), [0x00, 0x38]);
  assert.deepEqual(q8.slice(2, 6), [256 - 32, 256 - 30, 256 - 28, 256 - 26]);  // -32, -30, -28, -26
  assert.deepEqual(q8.slice(18, 20), [1, 3]);
  assert.equal(q8[33], 127);
});

test('quantRoundTrip: the exercises\' benchmark in the core, same exact bytes as native', () => {
  const q8 = memlab.quantRoundTrip('q8_0', 4096, 2, 1);
  assert.equal(q8.quantizedBytes, 4096 / 32 * 34);
  assert.equal(q8.outputBytes, 4096 * 4);
  assert.equal(q8.peakBytes, q8.quantizedBytes + q8.outputBytes);
  assert.ok(q8.ms > 0 && Number.isFinite(q8.ms), `ms = ${q8.ms}`);
  assert.equal(memlab.quantRoundTrip('nf4', 4096, 1, 1).quantizedBytes, 4096 / 64 * 4 + 4096 / 2);
  assert.throws(() => memlab.quantRoundTrip('q8_0', 100, 1, 1),
    { message: 'n = 100: expected a multiple of 32, the group or block of q8_0' });
  assert.throws(() => memlab.quantRoundTrip('q8_0', 64, 1.5, 1), { message: 'repeats = 1.5: expected an integer' });
});

test('runQuantGrid: NF4 spreads a Gaussian row over its codes more evenly than int4', () => {
  const g = memlab.runQuantGrid({ cols: 4096, distribution: 'gaussian', seed: 1 });
  assert.equal(g.row.length, 4096);
  assert.equal(g.int4Grid.length, 15);
  assert.equal(g.nf4Grid.length, 16);
  const sum = (a) => a.reduce((s, v) => s + v, 0);
  assert.equal(sum(g.int4Counts), 4096);
  assert.equal(sum(g.nf4Counts), 4096);
  assert.ok(g.nf4EntropyBits > g.int4EntropyBits + 0.3, `${g.nf4EntropyBits} vs ${g.int4EntropyBits}`);
});

test('a bad quantization parameter becomes a JS Error with its message, and the module keeps working', () => {
  const live = memlab.memoryStats().liveBytes;
  assert.throws(() => memlab.runQuant({ ...base, format: 'int4_asym', group: 48 }),
    { message: 'group = 48: expected a divisor of cols = 256' });
  assert.throws(() => memlab.runQuant({ ...base, cols: 100 }),
    { message: 'cols = 100: expected a multiple of 32 (the Q4_0 block)' });
  assert.throws(() => memlab.runQuant({ ...base, format: 'q3_0' }),
    { message: /^config\.format = "q3_0": expected one of "fp32", "fp16", .*"nf4_dq"$/ });
  assert.throws(() => memlab.runQuant({ ...base, rows: -1 }), { message: 'rows = -1: expected a positive integer' });
  assert.throws(() => memlab.quantBlockBytes('q4_0', Float32Array.of(1, NaN, ...new Array(30).fill(0))),
    { message: 'weights[0, 1] = nan: expected a finite value' });
  assert.throws(() => memlab.quantBlockBytes('nf4', new Float32Array(64)),
    { message: 'format = "nf4": expected one of "q8_0", "q4_0", "q4_1"' });
  assert.equal(memlab.memoryStats().liveBytes, live, 'the failed calls freed what they allocated');
  assert.equal(memlab.runQuant(base).weightBytes, expectedBytes.q4_0);
});
