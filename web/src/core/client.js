// Page-side handle on the core worker: every call returns a promise.
//
//   const core = createCore();
//   await core.ready();                       // names of the module's functions
//   const figures = await core.call('runAttention', config);
//   await core.callWithProgress('runGeneration', [config], (done) => ...);
//
// A failing call rejects with an Error carrying the core's message (e.g.
// "kv_heads = 3: expected a divisor of heads = 4"); later calls work as before.
//
//   const scoped = core.scope(['runAttention'], 'gqa.js');  // what gqa.js declares
//   await scoped.check();      // fails unless the module has every declared function
//   scoped.call('runQuant');   // rejects: gqa.js does not declare runQuant
export function createCore() {
  const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  const pending = new Map();
  let nextId = 1;
  let dead = null; // an Error once the worker itself has failed

  worker.onmessage = ({ data }) => {
    const p = pending.get(data.id);
    if (!p) return;
    if ('progress' in data) {
      p.onProgress?.(data.progress);
      return;
    }
    pending.delete(data.id);
    if ('error' in data) p.reject(new Error(data.error));
    else p.resolve(data.result);
  };
  worker.onerror = (event) => {
    event.preventDefault();
    dead = new Error(`the core worker failed: ${event.message || 'could not load worker.js'}`);
    for (const p of pending.values()) p.reject(dead);
    pending.clear();
  };

  function send(fn, args, onProgress) {
    if (dead) return Promise.reject(dead);
    return new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject, onProgress });
      worker.postMessage({ id, fn, args, progress: Boolean(onProgress) });
    });
  }
  const call = (fn, ...args) => send(fn, args);

  const ready = () => call('$ready');

  /** The same client limited to the functions in `calls`, as `owner` declared them. */
  function scope(calls, owner) {
    const allowed = (fn) => (calls.includes(fn) ? null
      : new Error(`${owner} calls ${fn}, which its calls list does not declare`));
    return {
      call: (fn, ...args) => { const e = allowed(fn); return e ? Promise.reject(e) : send(fn, args); },
      callWithProgress: (fn, args, onProgress) => {
        const e = allowed(fn);
        return e ? Promise.reject(e) : send(fn, args, onProgress);
      },
      ready,
      root: client, // the whole client: what warm-ups are remembered by (lib/warm-up.js)
      /** Rejects when the module lacks a declared function (a binding not built or renamed). */
      async check() {
        const names = await ready();
        const missing = calls.filter((fn) => !names.includes(fn));
        if (missing.length) throw new Error(`the memlab module has no ${missing.join(', ')} (declared by ${owner})`);
      },
    };
  }

  const client = {
    call,
    /** Like call; the function gets a progress callback as its last argument,
     *  whose calls arrive here as onProgress(value). */
    callWithProgress: (fn, args, onProgress) => send(fn, args, onProgress),
    ready,
    scope,
    terminate: () => worker.terminate(),
  };
  return client;
}
