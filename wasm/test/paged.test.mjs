// The serving simulator in the wasm module under node: the same exact figures as
// native core on the default stream (the stream is drawn by memlab::rng, the
// memory accounting is the real block pool's), consistent pool pictures for the
// animation, and errors that arrive as Error objects and leave the module working.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'node:test';
import { pathToFileURL } from 'node:url';

const dir = process.env.MEMLAB_WASM_DIR;
assert.ok(dir, 'set MEMLAB_WASM_DIR to the folder holding memlab.mjs (build/wasm/wasm)');
const { default: createMemlab } = await import(pathToFileURL(join(dir, 'memlab.mjs')).href);
const memlab = await createMemlab({ wasmBinary: readFileSync(join(dir, 'memlab-core.wasm')) });

const stream = { requests: 200, rate: 0.25, promptMean: 161, promptSigma: 1, outputMean: 338, outputSigma: 1,
  maxSeq: 1024, sharedPrefix: 0, seed: 1 };
const config = { stream, budget: 16384, blockSize: 16, maxBatch: 256, watermark: 0.01, preemption: 'recompute',
  kvBytesPerToken: 819200, runContiguous: true, check: false };

test('runServing: the default stream gives native core\'s exact figures', () => {
  const r = memlab.runServing(config, 50);
  // From `memlab-bench paged --json` (native, seed 1).
  assert.equal(r.outputTokens, 53327);
  assert.equal(r.lastArrival, 759);
  assert.equal(r.static.steps, 10148);
  assert.equal(r.continuousContiguous.steps, 3998);
  assert.equal(r.paged.steps, 2018);
  assert.equal(r.paged.preemptions, 66);
  assert.equal(r.paged.recomputedTokens, 11322);
  for (const s of [r.static, r.continuousContiguous, r.paged]) {
    assert.equal(s.tokens, 53327, `${s.name}: tokens`);
    assert.equal(s.usedSlotSteps, 19304068, `${s.name}: used slot-steps do not depend on the schedule`);
    assert.ok(s.timeline.length > 0 && s.timeline.length <= 50, `${s.name}: ${s.timeline.length} timeline points`);
  }
  assert.equal(r.paged.allocatedSlotSteps, 19704064);
  assert.ok(r.paged.waste < 0.04, `paged waste ${r.paged.waste}`);
  assert.ok(r.continuousContiguous.waste > 0.6 && r.continuousContiguous.waste < 0.8);
  assert.ok(r.throughputGain > 2);
});

test('pagedSnapshots: every picture\'s refcounts equal the tables naming each block', () => {
  const small = { ...config, stream: { ...stream, requests: 12, rate: 0.5, promptMean: 6, outputMean: 12, maxSeq: 32,
    sharedPrefix: 8 }, budget: 128, blockSize: 4 };
  const snaps = memlab.pagedSnapshots(small);
  assert.ok(snaps.length > 10);
  let shared = 0;
  for (const s of snaps) {
    assert.ok(s.owner instanceof Int32Array && s.owner.length === 32);
    const holders = new Array(32).fill(0);
    for (const q of s.sequences) for (const b of q.table) holders[b]++;
    assert.deepEqual(holders, [...s.refcount], `step ${s.step}`);
    for (let b = 0; b < 32; b++) assert.equal(s.owner[b] < 0, s.refcount[b] === 0);
    assert.equal(s.filled.reduce((a, x) => a + x, 0), s.slots.used);
    shared += s.slots.sharedBlocks;
  }
  assert.ok(shared > 0, 'the 8-token system prompt is shared in 2 blocks of 4');
});

test('a bad serving config becomes a JS Error with its message, and the module keeps working', () => {
  const live = memlab.memoryStats().liveBytes;
  assert.throws(() => memlab.runServing({ ...config, budget: 512 }, 50),
    { message: 'budget = 512: expected room for one sequence of max_seq = 1024 in whole blocks of block_size = 16' });
  assert.throws(() => memlab.runServing({ ...config, preemption: 'evict' }, 50),
    { message: 'config.preemption = "evict": expected one of "recompute", "swap"' });
  assert.throws(() => memlab.runServing(config, 0), { message: 'points = 0: expected a positive integer' });
  assert.throws(() => memlab.pagedSnapshots(config),
    { message: 'budget / block_size = 1024: expected at most 256 blocks to picture' });
  assert.equal(memlab.memoryStats().liveBytes, live, 'the failed calls freed what they allocated');
  const r = memlab.runServing({ ...config, stream: { ...stream, requests: 10 }, runContiguous: false }, 10);
  assert.equal(r.static, undefined);
  assert.equal(r.paged.tokens, r.outputTokens);
});
