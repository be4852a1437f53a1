// issue15.mjs — the defects of issue 15 ("hardening the wasm API"), one case each,
// as a hostile user would try them from node against the built module.
//
//   MEMLAB_WASM_DIR=build/wasm/wasm node wasm/test/repro/issue15.mjs [case-id ...]
//
// Every case runs in a child process of its own, on a fresh module, killed after
// 25 s. It prints what the call gave (a result, or the Error's message), how long
// it took, and the module's health afterwards: whether quantFormats() and
// memoryStats() still answer, the tracker's live bytes, the emval handles, and
// the wasm heap's bytes in use where the module reports them (heapBytes).
// A case-id alone runs that case in this process (what the parent spawns).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..', '..');
const dir = process.env.MEMLAB_WASM_DIR;
if (!dir) throw new Error('set MEMLAB_WASM_DIR to the folder holding memlab.mjs (build/wasm/wasm)');

const model = { layers: 2, dModel: 32, heads: 2, kvHeads: 2, dFf: 64, maxSeq: 64, tied: true };
const sampler = { temperature: 0, topK: 0, seed: 1 };
const generation = { model, modelSeed: 1, prompt: 'ab', tokens: 4, useCache: true, sampler };
// What runGenerationFrom takes now: the model comes from the file (defect 8).
const fromConfig = { prompt: 'ab', tokens: 4, useCache: true, sampler };
const forFrom = (m, config) => (m.schema?.objects.GenerationFromConfig ? fromConfig : config);
const attention = { seq: 64, headDim: 16, heads: 2, kvHeads: 2, causal: false, blockQ: 16, blockKv: 16,
  repeats: 1, seed: 1, runNaive: true };
const checkpoint = { layers: 4, batch: 4, width: 8, hidden: 16, repeats: 1, policy: 'sqrt', timeline: false };
const training = { model: { ...model, layers: 1, maxSeq: 16 }, steps: 2, batch: 2, seq: 8, lr: 0.01, seed: 1,
  text: 'the quick brown fox jumps over the lazy dog', prompt: 'th', sampleTokens: 4, sampler };
const stream = { requests: 20, rate: 0.25, promptMean: 16, promptSigma: 1, outputMean: 16, outputSigma: 1,
  maxSeq: 128, sharedPrefix: 0, seed: 1 };
const serving = { stream, budget: 1024, blockSize: 16, maxBatch: 16, watermark: 0.01, preemption: 'recompute',
  kvBytesPerToken: 1024, runContiguous: true, check: false };
const quant = { rows: 64, cols: 256, format: 'q4_0', granularity: 'group', group: 128,
  distribution: 'gaussian', runMatvec: true, repeats: 1, seed: 1 };
const f32 = (n, x = 0.5) => new Float32Array(n).fill(x);
const shape = { heads: 1, kvHeads: 1, seqQ: 4, seqKv: 4, headDim: 4 };

// A model file whose exact-size check passes in wasm32: 512 layers of d_model 1,
// d_ff 2^20 - 3 hold 2^30 + 1108 parameters, whose 4-byte product wraps to 4432.
function wrappedModelFile() {
  const header = new Uint32Array([512, 1, 1, 1, 2 ** 20 - 3, 851, 1, 256]);
  const bytes = new Uint8Array(4472);
  bytes.set(new TextEncoder().encode('MLABGPT1'));
  bytes.set(new Uint8Array(header.buffer), 8);
  return bytes;
}

// Each case: [id, defect, what it tries, run(memlab)].
const cases = [
  ['1a', 1, 'flashAttention, empty arrays, shape 65536^3', (m) =>
    m.flashAttention(f32(0), f32(0), f32(0), { heads: 1, kvHeads: 1, seqQ: 65536, seqKv: 65536, headDim: 65536 },
      false, 64, 64)],
  ['1b', 1, 'runAttention seq 32768, headDim 32768', (m) =>
    m.runAttention({ ...attention, seq: 32768, headDim: 32768, heads: 4, kvHeads: 4 })],
  ['1c', 1, 'runCheckpoint batch 2^24', (m) => m.runCheckpoint({ ...checkpoint, batch: 2 ** 24 })],
  ['1d', 1, 'runGeneration model.maxSeq 2^28, dModel 4', (m) =>
    m.runGeneration({ ...generation, model: { ...model, layers: 1, dModel: 4, heads: 1, kvHeads: 1, dFf: 4,
      maxSeq: 2 ** 28 } }, undefined)],
  ['1e', 1, 'runTraining model.maxSeq 2^28, dModel 4', (m) =>
    m.runTraining({ ...training, model: { ...model, layers: 1, dModel: 4, heads: 1, kvHeads: 1, dFf: 4,
      maxSeq: 2 ** 28 } }, undefined)],
  ['1f', 1, 'runGenerationFrom a crafted 4,472-byte file', (m) =>
    m.runGenerationFrom(wrappedModelFile(), forFrom(m, generation), undefined)],
  ['2a', 2, 'kvCacheBytes(model, 2^30) (true: 549755813888)', (m) => m.kvCacheBytes(model, 2 ** 30)],
  ['2b', 2, 'kvCacheBytes(model, 1e9) (true: 512000000000)', (m) => m.kvCacheBytes(model, 1e9)],
  ['2c', 2, 'runQuant 32768 x 32768', (m) => m.runQuant({ ...quant, rows: 32768, cols: 32768 })],
  ['3a', 3, '20 naiveAttention + 20 flashAttention calls whose shape lacks a field', (m) => {
    for (let i = 0; i < 20; i++) {
      try { m.naiveAttention(f32(16), f32(16), f32(16), { heads: 1 }, false); } catch {}
      try { m.flashAttention(f32(16), f32(16), f32(16), { heads: 1 }, false, 4, 4); } catch {}
    }
    return 'done';
  }],
  ['3b', 3, '50 runGenerationFrom calls with an 8 MiB array and a config lacking a field', (m) => {
    for (let i = 0; i < 50; i++) {
      try { m.runGenerationFrom(new Uint8Array(8 << 20), { prompt: 'a' }, undefined); } catch {}
    }
    global.gc?.();
    return `JS array buffers still held: ${(process.memoryUsage().arrayBuffers / 2 ** 20).toFixed(0)} MiB`;
  }],
  ['3c', 3, '20 runGeneration calls whose onToken throws', (m) => {
    let message;
    for (let i = 0; i < 20; i++) {
      try { m.runGeneration(generation, () => { throw new Error('stop'); }); } catch (e) { message = e.message; }
    }
    return `threw: ${message}`;
  }],
  ['3d', 3, '20 runTraining calls whose onStep throws', (m) => {
    let message;
    for (let i = 0; i < 20; i++) {
      try { m.runTraining(training, () => { throw new Error('stop'); }); } catch (e) { message = e.message; }
    }
    return `threw: ${message}`;
  }],
  ['4a', 4, 'runAttention repeats 1e7', (m) => m.runAttention({ ...attention, repeats: 1e7 })],
  ['4b', 4, 'runTraining steps 1e7', (m) => m.runTraining({ ...training, steps: 1e7 }, undefined)],
  ['4c', 4, 'runServing requests 1e7', (m) => m.runServing({ ...serving, stream: { ...stream, requests: 1e7 } }, 10)],
  ['4d', 4, 'runGeneration model.layers 1e5', (m) =>
    m.runGeneration({ ...generation, model: { ...model, layers: 1e5 } }, undefined)],
  ['4e', 4, 'runCacheDecode tokens 1e9', (m) =>
    m.runCacheDecode({ tokens: 1e9, heads: 1, kvHeads: 1, headDim: 4, repeats: 1, seed: 1 })],
  ['4f', 4, 'timeWeightRead repeats 1e7', (m) => m.timeWeightRead(model, 1, 1e7)],
  ['5a', 5, 'runServing stream.rate "0.5" (a string)', (m) =>
    m.runServing({ ...serving, stream: { ...stream, rate: '0.5' } }, 1).config.stream.rate],
  ['5b', 5, 'runGeneration sampler.temperature null, [], undefined, {}', (m) =>
    [null, [], undefined, {}].map((t) => {
      try { return m.runGeneration({ ...generation, sampler: { ...sampler, temperature: t } }, undefined)
        .config.sampler.temperature; } catch (e) { return `Error: ${e.message}`; }
    }).join(' | ')],
  ['5c', 5, 'runAttention causal "no"', (m) => m.runAttention({ ...attention, causal: 'no' }).config.causal],
  ['5d', 5, 'runTraining lr undefined', (m) => m.runTraining({ ...training, lr: undefined }, undefined).losses],
  ['5e', 5, 'runGeneration sampler.temperature Infinity', (m) =>
    m.runGeneration({ ...generation, sampler: { ...sampler, temperature: Infinity } }, undefined).tokens],
  ['5f', 5, 'runLora alpha NaN (main replaced loraMemory(model, 2, NaN) with runLora)', (m) =>
    m.runLora({ model, rank: 2, alpha: NaN, steps: 0, batch: 1, seq: 8, text: '' })[0]],
  ['6a', 6, 'flashAttention with q[0] = NaN', (m) => {
    const q = f32(16); q[0] = NaN;
    return Array.from(m.flashAttention(q, f32(16), f32(16), shape, false, 4, 4).slice(0, 4));
  }],
  ['6b', 6, 'naiveAttention with k[3] = Infinity', (m) => {
    const k = f32(16); k[3] = Infinity;
    return Array.from(m.naiveAttention(f32(16), k, f32(16), shape, false).slice(0, 4));
  }],
  ['7a', 7, 'runQuant format 5 (a number)', (m) => m.runQuant({ ...quant, format: 5 })],
  ['7b', 7, 'runGeneration(0)', (m) => m.runGeneration(0, undefined)],
  ['7c', 7, 'flashAttention(null, ...)', (m) => m.flashAttention(null, f32(16), f32(16), shape, false, 4, 4)],
  ['7d', 7, 'runServing points 1e9', (m) => m.runServing(serving, 1e9)],
  ['7e', 7, 'runCheckpoint width 2^15, hidden 2^15', (m) =>
    m.runCheckpoint({ ...checkpoint, width: 2 ** 15, hidden: 2 ** 15 })],
  ['7f', 7, 'runServing stream.rate 1e-9', (m) => m.runServing({ ...serving, stream: { ...stream, rate: 1e-9 } }, 1)],
  ['8a', 8, 'runCheckpoint repeats 0 and -1', (m) =>
    [0, -1].map((repeats) => {
      try { return `ran (stepMs ${m.runCheckpoint({ ...checkpoint, repeats }).stepMs.toFixed(3)})`; }
      catch (e) { return `Error: ${e.message}`; }
    }).join(' | ')],
  ['8b', 8, 'runQuant q4_0 with granularity "12", group -1', (m) =>
    m.runQuant({ ...quant, granularity: '12', group: -1 }).label],
  ['8c', 8, 'runGenerationFrom with a config without model (the file has it)', (m) => {
    const { model: _, modelSeed: __, ...withoutModel } = generation;
    return m.runGenerationFrom(readFileSync(join(root, 'data', 'tiny-gpt.bin')), withoutModel, undefined).tokens;
  }],
];

function text(x) {
  if (x instanceof Float32Array || Array.isArray(x)) return `[${Array.from(x).slice(0, 6).join(', ')}${x.length > 6 ? ', …' : ''}]`;
  if (typeof x === 'object' && x !== null) return JSON.stringify(x).slice(0, 160);
  return String(x);
}

async function runCase(id) {
  const [, defect, what, run] = cases.find((c) => c[0] === id);
  const { default: createMemlab } = await import(pathToFileURL(join(dir, 'memlab.mjs')).href);
  const m = await createMemlab({ wasmBinary: readFileSync(join(dir, 'memlab-core.wasm')) });
  const health = () => {
    const h = { emval: m.core.count_emval_handles() };
    try { h.live = m.memoryStats().liveBytes; } catch (e) { h.live = `Error: ${e.message}`; }
    try { h.formats = m.quantFormats().length; } catch (e) { h.formats = `Error: ${e.message}`; }
    if (m.heapBytes) try { h.heap = m.heapBytes(); } catch (e) { h.heap = `Error: ${e.message}`; }
    return h;
  };
  const before = health();
  const start = performance.now();
  let out;
  try {
    out = `returned ${text(run(m))}`;
  } catch (e) {
    out = e instanceof Error ? `Error: ${e.message}` : `threw a non-Error: ${String(e)}`;
  }
  const ms = performance.now() - start;
  const after = health();
  console.log(JSON.stringify({ id, defect, what, out, ms: Math.round(ms), before, after }));
}

if (process.argv.length === 3 && cases.some((c) => c[0] === process.argv[2])) {
  await runCase(process.argv[2]);
} else {
  const wanted = process.argv.slice(2);
  for (const [id] of cases.filter((c) => !wanted.length || wanted.includes(c[0]))) {
    const child = spawnSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), id],
      { encoding: 'utf8', timeout: 25000, env: process.env });
    const line = child.stdout.trim().split('\n').pop();
    let r;
    try { r = JSON.parse(line); } catch { r = null; }
    const what = cases.find((c) => c[0] === id)[2];
    if (!r) {
      const why = child.error?.code === 'ETIMEDOUT' ? 'still running after 25 s (killed)'
        : `child exited ${child.status}: ${(child.stderr || '').trim().split('\n').slice(-2).join(' / ')}`;
      console.log(`${id}. ${what}\n    -> ${why}`);
      continue;
    }
    const h = (x) => `live ${x.live}, emval ${x.emval}, quantFormats ${x.formats}` + (x.heap !== undefined ? `, heap ${x.heap}` : '');
    console.log(`${id}. ${what}\n    -> ${r.out.slice(0, 300)} (${r.ms} ms)\n    module before: ${h(r.before)}\n    module after:  ${h(r.after)}`);
  }
}
