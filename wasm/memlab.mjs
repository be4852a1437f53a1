// memlab.mjs — the memlab module for JavaScript (browser, Web Worker, node).
//
//   import createMemlab from './memlab.mjs';
//   const memlab = await createMemlab();            // options go to Emscripten
//   const figures = memlab.runAttention({...});
//
// Every API function comes from the C++ bindings. A C++ error is caught there
// and left as a message; this wrapper throws it as a JS Error right after the
// call, so the module is never left mid-unwind and keeps working.
import createMemlabCore from './memlab-core.js';

export default async function createMemlab(options = {}) {
  const core = await createMemlabCore(options);
  const api = { core };
  for (const name of core.apiFunctions()) {
    const fn = core[name];
    api[name] = (...args) => {
      const result = fn(...args);
      const error = core.takeLastError();
      if (error) throw new Error(error);
      return result;
    };
  }
  return api;
}
