// The one Web Worker that hosts the memlab wasm module. It knows no experiment:
// it calls the module's functions by the names the page sends.
//
// Protocol: the page posts {id, fn, args, progress?}; the worker calls api[fn](...args)
// and answers {id, result} or {id, error: message}, and {id, progress: n} meanwhile
// for calls that report progress. Calls run one after another (the
// module is synchronous), so a long sweep never blocks the page, and a C++ error
// (a JS Error from the bindings) fails only that call: the module stays usable.
// fn '$ready' waits for the module and returns the names of its functions.
// (Warm-up runs, so that timed runs meet optimized code, are the experiments'
// own: lib/warm-up.js.)
import createMemlab from '@memlab/wasm/memlab.mjs';
import wasmUrl from '@memlab/wasm/memlab-core.wasm?url';

const ready = createMemlab({ locateFile: (file) => (file.endsWith('.wasm') ? wasmUrl : file) });
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
