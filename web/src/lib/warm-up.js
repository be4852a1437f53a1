// Untimed runs before an experiment's first timed point.
//
// V8 runs wasm first through its baseline compiler and optimizes hot functions
// later, in the background; a call already running stays on the baseline code.
// So the first measurement of a kernel would be an outlier. Each experiment (and
// each of the exercises' core counterparts) declares its warm-up:
//   warmUp: [{ fn, args }, ...]       core calls, made one after another, or
//   warmUp: async (core) => { ... }   for a warm-up that needs an answer first
// and whoever starts its timed runs (the section's Run, a compare chart, a
// default run when a section comes into view) awaits warmUp(core, it.warmUp)
// first. Each warm-up runs once per core (a shared list, once for all who share
// it); one that failed runs again next time.
const done = new WeakMap(); // core -> Map(warm-up -> promise)
// ?warmup=0 on the page's URL skips every warm-up: for bench/first-points.mjs,
// which shows what the warm-up changes in the first timed points.
const skipped = typeof location !== 'undefined' && new URLSearchParams(location.search).get('warmup') === '0';

export function warmUp(core, steps) {
  if (skipped || !steps || (Array.isArray(steps) && steps.length === 0)) return Promise.resolve();
  const key = core.root ?? core; // a scoped client (core.scope) shares its client's warm-ups
  if (!done.has(key)) done.set(key, new Map());
  const started = done.get(key);
  if (!started.has(steps)) {
    const run = typeof steps === 'function'
      ? Promise.resolve().then(() => steps(core))
      : steps.reduce((previous, { fn, args = [] }) => previous.then(() => core.call(fn, ...args)), Promise.resolve());
    started.set(steps, run);
    run.catch(() => started.delete(steps));
  }
  return started.get(steps);
}

/** A warm-up's shape, checked when the page loads: an array of {fn, args?} or a function. */
export function checkWarmUp(steps, where) {
  if (steps === undefined || typeof steps === 'function') return;
  const ok = Array.isArray(steps) && steps.every((s) => s && typeof s.fn === 'string'
    && (s.args === undefined || Array.isArray(s.args)));
  if (!ok) throw new Error(`${where}: warmUp must be [{ fn, args }] or a function of the core client`);
}
