// LSH attention in the wasm module under node: the seeded rotations and buckets
// are the native ones (tests/core/lsh_test.cpp holds the same numbers), the
// tracked peak is the output plus lsh_scratch_bytes, clustered keys beat random
// ones, and bad options arrive as Errors that leave the module working.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'node:test';
import { pathToFileURL } from 'node:url';

const dir = process.env.MEMLAB_WASM_DIR;
assert.ok(dir, 'set MEMLAB_WASM_DIR to the folder holding memlab.mjs (build/wasm/wasm)');
const { default: createMemlab } = await import(pathToFileURL(join(dir, 'memlab.mjs')).href);
const memlab = await createMemlab({ wasmBinary: readFileSync(join(dir, 'memlab-core.wasm')) });

const options = { nBuckets: 8, nRounds: 2, chunk: 4, causal: false, seed: 1 };

test('seeded rotations and buckets are the native ones', () => {
  // qk[p, c] = ((8p + c) · 37 mod 17 - 8) / 4, exact in float, as in the native test.
  const qk = Float32Array.from({ length: 16 * 8 }, (_, i) => (((i * 37) % 17) - 8) / 4);
  const rotations = memlab.lshRotations(1, 8, options);
  assert.equal(rotations.length, 1 * 2 * 8 * 4);
  assert.deepEqual([...rotations.slice(0, 4)],
    [-0.034267623, -1.29260838, -2.50006652, 0.911466897].map(Math.fround));
  const buckets = memlab.lshBuckets(qk, 1, 16, 8, options);
  assert.ok(buckets instanceof Uint32Array);
  assert.deepEqual([...buckets], [2, 6, 2, 2, 6, 2, 6, 2, 4, 6, 2, 6, 3, 4, 6, 2,
    3, 5, 2, 5, 1, 3, 7, 2, 4, 1, 3, 7, 3, 5, 7, 5]);
});

const config = { seq: 256, headDim: 32, heads: 1, nBuckets: 16, nRounds: 4, chunk: 32,
  causal: false, data: 'clustered', clusterSize: 16, repeats: 1, seed: 1,
  runExact: true, runNaive: true, runFlash: true };

test('runLsh: peak is the output plus the exact scratch; every method ran', () => {
  const f = memlab.runLsh(config);
  assert.ok(f.lsh.ran && f.exact.ran && f.naive.ran && f.flash.ran);
  assert.equal(f.lsh.peakBytes, 256 * 32 * 4 + f.scratchBytes);
  assert.ok(f.naive.peakBytes > 2 * 256 * 256 * 4, `naive keeps seq² scores: ${f.naive.peakBytes}`);
  assert.ok(f.relativeError < 0.5, `clustered, 4 rounds: relative error ${f.relativeError}`);
});

test('runLshErrors: random data is far worse than clustered at 8 rounds', () => {
  const rows = memlab.runLshErrors({ seq: 256, headDim: 32, chunk: 32, causal: false,
    clusterSize: 16, buckets: [16], rounds: [1, 8], seed: 1 });
  assert.equal(rows.length, 4);
  const at = (data, rounds) => rows.find((r) => r.data === data && r.nRounds === rounds).relativeError;
  assert.ok(at('random', 8) > 2 * at('clustered', 8), JSON.stringify(rows));
});

test('bad options are named, and the module keeps working', () => {
  assert.throws(() => memlab.runLsh({ ...config, nBuckets: 3 }),
    { message: 'n_buckets = 3: expected 1 or an even number (argmax over [xR, -xR] gives pairs of buckets)' });
  assert.throws(() => memlab.runLsh({ ...config, data: 'sorted' }),
    { message: 'data = sorted: expected random or clustered' });
  assert.throws(() => memlab.runLshErrors({ seq: 64, headDim: 8, chunk: 8, causal: false,
    clusterSize: 16, buckets: [2, 1.5], rounds: [1], seed: 1 }),
  { message: 'config.buckets[1] = 1.5: expected an integer' });
  assert.throws(() => memlab.lshBuckets(new Float32Array(10), 1, 16, 8, options),
    { message: 'qk.length = 10: expected heads · seq · headDim = 128' });
  assert.ok(memlab.runLsh({ ...config, seq: 64, runExact: false }).lsh.ran);
});
