// The one Web Worker that hosts the memlab wasm module.
//
// Protocol: the page posts {id, fn, args, progress?}; the worker calls api[fn](...args)
// and answers {id, result} or {id, error: message}, and {id, progress: n} meanwhile
// for calls that report progress. Calls run one after another (the
// module is synchronous), so a long sweep never blocks the page, and a C++ error
// (a JS Error from the bindings) fails only that call: the module stays usable.
// fn '$ready' waits for the module and returns the names of its functions.
import createMemlab from '@memlab/wasm/memlab.mjs';
import wasmUrl from '@memlab/wasm/memlab-core.wasm?url';

// V8 runs wasm first through its baseline compiler and optimizes hot functions
// later, in the background; a call already running stays on the baseline code.
// A few small untimed runs at load let the kernels tier up, so the learner's
// first measurement is not an outlier.
function warmUp(api) {
  const config = { seq: 256, headDim: 64, heads: 2, kvHeads: 2, causal: false,
    blockQ: 64, blockKv: 64, repeats: 3, seed: 1, runNaive: true };
  api.runAttention(config);
  api.runAttention({ ...config, causal: true });
  api.runFlashBackward(config);
  api.runFlashBackward({ ...config, causal: true, kvHeads: 1 });
  api.runIoBytes({ seq: 128, headDim: 64, heads: 1, kvHeads: 1, causal: false, fastBytes: 16384, seed: 1, runNaive: true });
  const model = { layers: 2, dModel: 64, heads: 4, kvHeads: 2, dFf: 128, maxSeq: 64, tied: true };
  const sampler = { temperature: 0, topK: 0, seed: 1 };
  for (const useCache of [true, false])
    api.runGeneration({ model, modelSeed: 1, prompt: 'warm', tokens: 40, useCache, sampler }, undefined);
  // the counterparts of the exercises' benchmarks (exercises/compare.js)
  api.runCacheDecode({ tokens: 128, heads: 4, kvHeads: 1, headDim: 64, repeats: 2, seed: 1 });
  for (const format of ['q8_0', 'nf4']) api.quantRoundTrip(format, 4096, 2, 1);
  for (const format of api.quantFormats())
    api.runQuant({ rows: 256, cols: 1024, format, granularity: 'group', group: 128,
      distribution: 'gaussian', runMatvec: true, repeats: 3, seed: 1 });
  return api;
}

const ready = createMemlab({ locateFile: (file) => (file.endsWith('.wasm') ? wasmUrl : file) })
  .then(warmUp);
ready.catch(() => {}); // reported to every caller below, not as an unhandled rejection

function message(e) {
  if (e instanceof Error) return e.message || e.name;
  return `non-Error thrown by the core: ${String(e)}`;
}

self.onmessage = async ({ data }) => {
  const { id, fn, progress } = data;
  // A call that reports progress gets a callback as its last argument; each
  // call of it is relayed to the page as {id, progress}.
  const args = progress ? [...(data.args ?? []), (done) => self.postMessage({ id, progress: done })]
    : (data.args ?? []);
  try {
    const api = await ready.catch((e) => {
      throw new Error(`the memlab wasm module failed to load: ${message(e)}`);
    });
    let result;
    if (fn === '$ready') {
      result = Object.keys(api).filter((k) => typeof api[k] === 'function');
    } else if (typeof api[fn] === 'function') {
      result = await api[fn](...args);
    } else {
      throw new Error(`the memlab module has no function ${fn}`);
    }
    self.postMessage({ id, result });
  } catch (e) {
    self.postMessage({ id, error: message(e) });
  }
};
