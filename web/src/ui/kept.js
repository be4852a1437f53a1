// The last results of each section, kept in the browser (localStorage), so that a
// learner who comes back sees them at once instead of an empty chart.
//
// One entry per section: { params, values, results, at }: the control inputs as
// text (to fill the controls again), the values the run read from them, the
// results as the core returned them (plain JSON: numbers, strings, arrays), and
// when it ran. Entries are tied to this build of the page (the hashed URL of this
// chunk changes with the code and the core): results of an older build, whose
// shape may differ, are not shown. Nothing here leaves the browser. Typed arrays
// (the paged KV cache's pool pictures are Int32Arrays) are kept as
// { [TYPED]: 'Int32Array', values: [...] } and come back as typed arrays.
const PREFIX = 'memlab:results:';
const TYPED = '$typedArray';
const typedArrays = { Int8Array, Uint8Array, Int16Array, Uint16Array, Int32Array, Uint32Array, Float32Array, Float64Array };
const build = import.meta.url;
// localStorage holds ~5 MB per origin, shared with the exercises' code and
// progress: a section whose results are larger is simply not kept.
const MAX_CHARS = 1_000_000;

function storage() {
  try { return window.localStorage; } catch { return null; } // blocked (e.g. some private modes)
}

/** Keeps a section's finished run; returns whether it was kept. */
export function keepResults(id, { params, values, results }) {
  let text;
  try {
    text = JSON.stringify({ build, params, values, results, at: Date.now() }, (key, value) => {
      if (!ArrayBuffer.isView(value)) return value;
      const type = value.constructor.name;
      if (!typedArrays[type]) throw new TypeError(`${type} is not kept`);
      return { [TYPED]: type, values: Array.from(value) };
    });
  } catch {
    text = null;
  }
  if (!text || text.length > MAX_CHARS) { forgetResults(id); return false; }
  try {
    storage()?.setItem(PREFIX + id, text);
    return true;
  } catch {
    return false; // quota: the page works the same without it
  }
}

/** The run kept for section `id` by this build of the page, or null. */
export function keptResults(id) {
  try {
    const kept = JSON.parse(storage()?.getItem(PREFIX + id) ?? 'null', (key, value) =>
      (value && typeof value === 'object' && typedArrays[value[TYPED]]
        ? typedArrays[value[TYPED]].from(value.values) : value));
    if (!kept || kept.build !== build || !Array.isArray(kept.results)) return null;
    return kept;
  } catch {
    return null;
  }
}

export function forgetResults(id) {
  try { storage()?.removeItem(PREFIX + id); } catch { /* nothing kept */ }
}
