// The one Web Worker that hosts the memlab wasm module.
//
// Protocol: the page posts {id, fn, args}; the worker calls api[fn](...args) and
// answers {id, result} or {id, error: message}. Calls run one after another (the
// module is synchronous), so a long sweep never blocks the page, and a C++ error
// (a JS Error from the bindings) fails only that call: the module stays usable.
// fn '$ready' waits for the module and returns the names of its functions.
import createMemlab from '@memlab/wasm/memlab.mjs';
import wasmUrl from '@memlab/wasm/memlab-core.wasm?url';

const ready = createMemlab({ locateFile: (file) => (file.endsWith('.wasm') ? wasmUrl : file) });
ready.catch(() => {}); // reported to every caller below, not as an unhandled rejection

function message(e) {
  if (e instanceof Error) return e.message || e.name;
  return `non-Error thrown by the core: ${String(e)}`;
}

self.onmessage = async ({ data }) => {
  const { id, fn, args = [] } = data;
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
