// memlab.mjs — the memlab module for JavaScript (browser, Web Worker, node).
//
//   import createMemlab from './memlab.mjs';
//   const memlab = await createMemlab();            // options go to Emscripten
//   const figures = memlab.runAttention({...});
//
// Every API function comes from the C++ bindings. A C++ error is caught there
// and left as a message; this wrapper throws it as a JS Error right after the
// call, so the module is never left mid-unwind and keeps working. Integers are
// checked, not truncated: layers: 1.5 fails with "layers = 1.5: expected an integer".
import createMemlabCore from './memlab-core.js';

export default async function createMemlab(options = {}) {
  const core = await createMemlabCore(options);
  const api = { core };
  for (const name of core.apiFunctions()) {
    const fn = core[name];
    api[name] = (...args) => {
      let result, error;
      try {
        result = fn(...args);
      } finally {
        // also when Embind's JS threw midway through the arguments (say, a
        // missing field): the error an earlier field left is dropped with it
        error = core.takeLastError();
      }
      if (error) throw new Error(error);
      return result;
    };
  }
  return api;
}
