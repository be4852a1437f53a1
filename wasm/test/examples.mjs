// examples.mjs — one small valid call of every export of the wasm module (its
// arguments), fast enough to run after every failed call: the health probe of
// api.test.mjs and the starting points the JS-API fuzzer (fuzz.test.mjs)
// mutates. A new export adds its call here; both tests fail for an export
// without one.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const trainedWeights = new Uint8Array(readFileSync(join(root, 'data', 'tiny-gpt.bin')));
export const corpus = readFileSync(join(root, 'data', 'corpus.txt'), 'utf8');

// A seeded Float32Array of n values in [-1, 1).
export function floats(n, seed = 1) {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

// Independent reference: softmax(q kᵀ / sqrt(d)) v in float64, head h reading KV head h / group.
export function attentionReference(q, k, v, { heads, kvHeads, seqQ, seqKv, headDim }, causal) {
  const out = new Float64Array(heads * seqQ * headDim);
  for (let h = 0; h < heads; h++) {
    const g = Math.floor(h / (heads / kvHeads));
    for (let i = 0; i < seqQ; i++) {
      const seen = causal ? i + seqKv - seqQ + 1 : seqKv;
      const s = [];
      for (let j = 0; j < seen; j++) {
        let dot = 0;
        for (let c = 0; c < headDim; c++) dot += q[(h * seqQ + i) * headDim + c] * k[(g * seqKv + j) * headDim + c];
        s.push(dot / Math.sqrt(headDim));
      }
      const max = Math.max(...s);
      const e = s.map((x) => Math.exp(x - max));
      const sum = e.reduce((a, b) => a + b, 0);
      for (let j = 0; j < seen; j++)
        for (let c = 0; c < headDim; c++) out[(h * seqQ + i) * headDim + c] += (e[j] / sum) * v[(g * seqKv + j) * headDim + c];
    }
  }
  return out;
}

export const model = { layers: 1, dModel: 16, heads: 2, kvHeads: 1, dFf: 32, maxSeq: 32, tied: true };
const sampler = { temperature: 0.8, topK: 5, seed: 1 };
const shape = { heads: 2, kvHeads: 1, seqQ: 5, seqKv: 7, headDim: 4 };
const stream = { requests: 6, rate: 0.5, promptMean: 4, promptSigma: 0.5, outputMean: 4, outputSigma: 0.5,
  maxSeq: 16, sharedPrefix: 2, seed: 1 };
const lshOptions = { nBuckets: 8, nRounds: 2, chunk: 4, causal: false, seed: 1 };
const serving = { stream, budget: 64, blockSize: 4, maxBatch: 4, watermark: 0.01, preemption: 'recompute',
  kvBytesPerToken: 1024, runContiguous: true, check: true };

// A small dense shape and a recipe for the memory planner (planner/planner.hpp).
const plannerShape = { name: 'tiny', layers: 2, dModel: 32, heads: 4, kvHeads: 2, dFf: 64, vocab: 256, positions: 64,
  mlp: 'gelu', norm: 'rms', tied: true, biases: false, experts: 0, topK: 1, capacityFactor: 0 };
const recipe = { weights: 'fp16', embeddings: '', kv: 'fp16', paged: false, block: 16, seq: 64, context: 0, batch: 2,
  train: 'none', checkpoint: 'none', attention: 'flash', rank: 8, activationBytes: 4 };
const moeBalance = { model, experts: 4, topK: 2, capacityFactor: 0, auxLossCoef: 0.01, steps: 2, batch: 1, seq: 8,
  lr: 0.01, text: corpus.slice(0, 200), evalText: '', seed: 1 };

// name: a function returning a list of calls (each a list of arguments).
export const examples = {
  memoryStats: () => [[]],
  heapBytes: () => [[]],
  runAttention: () => [[{ seq: 16, headDim: 4, heads: 2, kvHeads: 1, causal: true, blockQ: 4, blockKv: 8,
    repeats: 1, seed: 1, runNaive: true }]],
  runCacheDecode: () => [[{ tokens: 8, heads: 2, kvHeads: 1, headDim: 4, repeats: 1, seed: 1 }]],
  naiveAttention: () => [[floats(2 * 5 * 4, 1), floats(7 * 4, 2), floats(7 * 4, 3), shape, true]],
  flashAttention: () => [[floats(2 * 5 * 4, 1), floats(7 * 4, 2), floats(7 * 4, 3), shape, false, 2, 3]],
  runGeneration: () => [[{ model, modelSeed: 1, prompt: 'ab', tokens: 3, useCache: true, sampler }, undefined],
    [{ model, modelSeed: 2, prompt: 'xyz', tokens: 2, useCache: false, sampler }, () => {}]],
  runGenerationFrom: () => [[trainedWeights, { prompt: 'The ', tokens: 3, useCache: true, sampler }, undefined]],
  kvCacheBytes: () => [[model, 8]],
  timeWeightRead: () => [[model, 1, 1]],
  runServing: () => [[serving, 4]],
  pagedSnapshots: () => [[serving]],
  runQuant: () => [[{ rows: 4, cols: 64, format: 'q4_0', granularity: 'group', group: 32,
    distribution: 'gaussian', runMatvec: true, repeats: 1, seed: 1 }]],
  runQuantGrid: () => [[{ cols: 64, distribution: 'heavy', seed: 1 }]],
  quantFormats: () => [[]],
  quantBlockBytes: () => [['q8_0', floats(64)]],
  quantRoundTrip: () => [['nf4', 128, 1, 1]],
  runCheckpoint: () => [[{ layers: 4, batch: 2, width: 4, hidden: 8, repeats: 1, policy: 'sqrt', timeline: true }]],
  runTraining: () => [[{ model: { ...model, maxSeq: 8 }, steps: 2, batch: 1, seq: 8, lr: 0.01, seed: 1,
    text: corpus.slice(0, 200), prompt: 'Th', sampleTokens: 4, sampler: { temperature: 0, topK: 0, seed: 1 } },
  undefined]],
  runLora: () => [[{ model: { ...model, layers: 2 }, rank: 2, alpha: 4, steps: 0, batch: 1, seq: 8, text: '' }],
    [{ model: { ...model, maxSeq: 8 }, rank: 1, alpha: 2, steps: 1, batch: 1, seq: 8, text: corpus.slice(0, 100) }]],
  kvCacheSizes: () => [[model, [2, 1], [8, 32]]],
  runFlashBackward: () => [[{ seq: 12, headDim: 4, heads: 2, kvHeads: 1, causal: true, blockQ: 4, blockKv: 8,
    repeats: 1, seed: 1, runNaive: true }]],
  runIoBytes: () => [[{ seq: 20, headDim: 4, heads: 2, kvHeads: 1, causal: false, fastBytes: 1024, seed: 1,
    runNaive: true, lshBuckets: 4, lshRounds: 2, lshChunk: 8 }]],
  runLsh: () => [[{ seq: 32, headDim: 8, heads: 1, nBuckets: 4, nRounds: 2, chunk: 8, causal: false,
    data: 'clustered', clusterSize: 8, repeats: 1, seed: 1, runExact: true, runNaive: true, runFlash: true }]],
  runLshErrors: () => [[{ seq: 32, headDim: 8, chunk: 8, causal: true, clusterSize: 8, buckets: [2, 4], rounds: [1],
    seed: 1 }]],
  lshRotations: () => [[1, 8, lshOptions]],
  lshBuckets: () => [[floats(16 * 8), 1, 16, 8, lshOptions]],
  runPrecision: () => [[{ seq: 16, headDim: 8, heads: 1, logitScale: 1, causal: true, repeats: 1, seed: 1 }]],
  runRounding: () => [[{ values: 500, bins: 8, stddev: 1, seed: 1 }]],
  precisionRound: () => [['bf16', 1 + 2 ** -8], ['fp16', 65520], ['bf16', NaN]],
  runMoeSizes: () => [[model, [2, 4], 2]],
  runMoeBalance: () => [[moeBalance, undefined],
    [{ ...moeBalance, capacityFactor: 1.25, evalText: 'a mixture of experts' }, () => {}]],
  runMoeSpeed: () => [[model, [2], 2, 2, 1]],
  plan: () => [[plannerShape, recipe], [{ ...plannerShape, experts: 4, topK: 2, mlp: 'swiglu' },
    { ...recipe, weights: 'q4_0', kv: 'fp32', paged: true, block: 8, seq: 20, train: 'full', checkpoint: 'sqrt' }]],
  plannerPresets: () => [[]],
  plannerPreset: () => [['gpt2'], ['mixtral-8x7b']],
  plannerDevices: () => [[]],
  runPlannerCheck: () => [[{ like: plannerShape, recipe: { ...recipe, train: 'full', seq: 16 }, seed: 1 }]],
  runFlashTrace: () => [[{ seq: 12, headDim: 4, blockQ: 4, blockKv: 4, causal: false, seed: 1 }],
    [{ seq: 10, headDim: 3, blockQ: 3, blockKv: 4, causal: true, seed: 2 }]],
};
