// The flash step-through in the wasm module under node: the page's example gives
// the 9 steps in order with typed arrays of the right sizes, its output equals
// naive attention's, and bad sizes arrive as Error objects naming the argument,
// leaving the module working.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'node:test';
import { pathToFileURL } from 'node:url';

const dir = process.env.MEMLAB_WASM_DIR;
assert.ok(dir, 'set MEMLAB_WASM_DIR to the folder holding memlab.mjs (build/wasm/wasm)');
const { default: createMemlab } = await import(pathToFileURL(join(dir, 'memlab.mjs')).href);
const memlab = await createMemlab({ wasmBinary: readFileSync(join(dir, 'memlab-core.wasm')) });

const example = { seq: 12, headDim: 4, blockQ: 4, blockKv: 4, causal: false, seed: 1 };

test('runFlashTrace: the page\'s example, step by step', () => {
  const t = memlab.runFlashTrace(example);
  assert.equal(t.steps.length, 9);
  t.steps.forEach((s, i) => {
    assert.deepEqual([s.qTile, s.kvTile, s.qBegin, s.kvBegin], [Math.floor(i / 3), i % 3, 4 * Math.floor(i / 3), 4 * (i % 3)]);
    assert.equal(s.last, i % 3 === 2);
    assert.ok(s.scores instanceof Float32Array && s.scores.length === 16);
    assert.equal(s.out.length, 16);
    if (i % 3 === 0) assert.deepEqual([...s.mOld], [-Infinity, -Infinity, -Infinity, -Infinity]);
  });
  assert.equal(t.scale, 0.5);
  assert.equal(t.out.length, 48);
  assert.equal(t.naiveProbs.length, 144);
  // The output against a softmax computed here in float64 from the inputs drawn by core.
  for (let i = 0; i < 12; i++) {
    const s = Array.from({ length: 12 }, (_, j) => t.q.slice(4 * i, 4 * i + 4).reduce((a, x, e) => a + x * t.k[4 * j + e], 0) / 2);
    const m = Math.max(...s), w = s.map((x) => Math.exp(x - m)), l = w.reduce((a, b) => a + b);
    for (let e = 0; e < 4; e++) {
      const o = w.reduce((a, p, j) => a + p * t.v[4 * j + e], 0) / l;
      assert.ok(Math.abs(t.out[4 * i + e] - o) < 1e-5, `out[${i}, ${e}] ${t.out[4 * i + e]} vs ${o}`);
      assert.ok(Math.abs(t.naiveOut[4 * i + e] - o) < 1e-5);
    }
  }
  assert.ok(t.maxAbsDiff <= 1e-6, `max |flash − naive| ${t.maxAbsDiff}`);
});

test('runFlashTrace: bad sizes are named, the module keeps working', () => {
  assert.throws(() => memlab.runFlashTrace({ ...example, seq: 65 }), /seq = 65: expected at most 64/);
  assert.throws(() => memlab.runFlashTrace({ ...example, blockKv: 0 }), /block_kv = 0: expected a positive integer/);
  assert.throws(() => memlab.runFlashTrace({ ...example, headDim: 1.5 }), /headDim = 1.5: expected an integer/);
  assert.equal(memlab.runFlashTrace({ ...example, causal: true }).steps.length, 6);
});
