// memlab.mjs — the memlab module for JavaScript (browser, Web Worker, node).
//
//   import createMemlab from './memlab.mjs';
//   const memlab = await createMemlab();            // options go to Emscripten
//   const figures = memlab.runAttention({...});
//
// Every API function comes from the C++ bindings, with a description of its
// arguments (api.hpp). A call goes through three steps:
// 1. schema.mjs checks every argument against that description, before Embind
//    converts anything: a wrong type, a non-integer, NaN, a missing or unknown
//    field throws an Error naming it ("config.seq = 1.5: expected an integer"),
//    and nothing reaches the heap, so nothing can leak.
// 2. Callbacks are passed wrapped: a callback that throws makes its wrapper
//    return false, which stops the C++ side with an ordinary C++ error (its
//    frames unwind, its memory is freed); its own exception is thrown here,
//    once the call has returned.
// 3. A C++ error is caught in the binding and left as a message; it is thrown
//    here as a JS Error right after the call, so the module is never left
//    mid-unwind and keeps working.
// memlab.schema is the description (apiSchema()): functions, object types and
// the limits of base/limits.hpp.
import createMemlabCore from './memlab-core.js';
import { checker } from './schema.mjs';

export default async function createMemlab(options = {}) {
  const core = await createMemlabCore(options);
  const schema = core.apiSchema();
  const check = checker(schema);
  const api = { core, schema };
  for (const [name, params] of Object.entries(schema.functions)) {
    const fn = core[name];
    api[name] = (...args) => {
      check(name, args);
      let thrown = null;
      const passed = params.map((p, i) => {
        const x = args[i];
        if (p.kind !== 'function' || typeof x !== 'function') return x;
        return (...values) => {
          if (thrown) return false;
          try {
            x(...values);
            return true;
          } catch (e) {
            thrown = { error: e };
            return false;
          }
        };
      });
      let result, error;
      try {
        result = fn(...passed);
      } finally {
        error = core.takeLastError();
      }
      if (thrown) throw thrown.error;
      if (error) throw new Error(error);
      return result;
    };
  }
  return api;
}
