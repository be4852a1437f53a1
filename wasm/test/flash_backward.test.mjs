// runFlashBackward and runIoBytes under node: the same exact figures as native core
// (tests/core/attention_experiment_test.cpp), and errors that leave the module working.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'node:test';
import { pathToFileURL } from 'node:url';

const dir = process.env.MEMLAB_WASM_DIR;
assert.ok(dir, 'set MEMLAB_WASM_DIR to the folder holding memlab.mjs (build/wasm/wasm)');
const { default: createMemlab } = await import(pathToFileURL(join(dir, 'memlab.mjs')).href);
const memlab = await createMemlab({ wasmBinary: readFileSync(join(dir, 'memlab-core.wasm')) });

test('runFlashBackward: exact peaks by the formulas, gradients that agree', () => {
  const f = memlab.runFlashBackward({
    seq: 200, headDim: 32, heads: 4, kvHeads: 2, causal: true,
    blockQ: 64, blockKv: 64, repeats: 1, seed: 1, runNaive: true,
  });
  assert.ok(f.naive.ran && f.flash.ran);
  assert.ok(f.maxRelDiff <= 1e-5, `maxRelDiff ${f.maxRelDiff}`);
  // flash_backward.hpp: naive 2hN² + 2hNd + 2gNd + 64N; flash 2hNd + 2gNd + 2hN + 2d·64 + 3·64²
  assert.equal(f.naive.peakBytes, (2 * 4 * 200 * 200 + 2 * 4 * 200 * 32 + 2 * 2 * 200 * 32 + 64 * 200) * 4);
  assert.equal(f.flash.peakBytes, (2 * 4 * 200 * 32 + 2 * 2 * 200 * 32 + 2 * 4 * 200 + 2 * 32 * 64 + 3 * 64 * 64) * 4);
  assert.equal(f.flops, 3 * 4 * 4 * (200 * 201 / 2) * 32);
  assert.throws(() => memlab.runFlashBackward({ ...f.config, kvHeads: 3 }),
    { message: 'kv_heads = 3: expected a divisor of heads = 4' });
  // (q, O, dO, dQ 4 · 4 · 40000 · 32, k, v, dK, dV 4 · 2 · 40000 · 32, P and dP 2 · 4 · 40000²,
  // and 4 · 4096 floats) · 4 = 51322945536 bytes = 47.80 GiB
  assert.throws(() => memlab.runFlashBackward({ ...f.config, seq: 40000 }),
    { message: 'seq = 40000, heads = 4, head_dim = 32: expected at most 1.00 GiB held by one call ' +
      '(q, k, v, dO, the gradients and naive\'s P and dP: 47.8 GiB)' });
  assert.ok(memlab.runFlashBackward({ ...f.config, runNaive: false }).flash.ran); // still usable
});

test('runIoBytes: counted bytes equal the closed forms, tiles from M', () => {
  const f = memlab.runIoBytes({
    seq: 300, headDim: 32, heads: 2, kvHeads: 1, causal: true, fastBytes: 8192, seed: 1, runNaive: true,
    lshBuckets: 8, lshRounds: 2, lshChunk: 64,
  });
  assert.deepEqual([f.forwardBlockQ, f.forwardBlockKv, f.backwardBlockQ, f.backwardBlockKv], [16, 16, 16, 16]);
  for (const name of ['naive', 'naiveBackward', 'flash', 'flashBackward', 'lsh']) {
    const c = f[name];
    assert.ok(c.ran, name);
    assert.equal(c.read, c.formulaRead, `${name} read`);
    assert.equal(c.written, c.formulaWritten, `${name} written`);
  }
  assert.equal(f.naive.read + f.naive.written, 16 * 2 * (300 * 32 + 300 * 300));
  // LSH (lsh.hpp's lsh_io_bytes by hand): N 300, d 32, 2 rounds, chunks of 64 (5 chunks,
  // windows W = 300 + 4 · 64 = 556 rows a round), per head in floats:
  // read  Nd + 2 (Nd + 3N) + 2 (66 W + Nd + 2W) + N (d + 2) + N (d + 1) = 145516
  // write N + 2 · 3N + 2 N (d + 2) + Nd = 32100; two heads, 4 bytes a float.
  assert.deepEqual([f.lsh.read, f.lsh.written], [2 * 4 * 145516, 2 * 4 * 32100]);
  assert.throws(() => memlab.runIoBytes({ ...f.config, fastBytes: 100 }),
    { message: 'fast_bytes = 100: expected at least 16 · head_dim = 512 (four rows of head_dim floats)' });
  assert.throws(() => memlab.runIoBytes({ ...f.config, fastBytes: 1.5 }), { message: 'config.fastBytes = 1.5: expected an integer' });
});
