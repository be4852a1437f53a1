// Every file in src/experiments/ is an experiment: adding one is adding one file
// (and its binding file in wasm/); nothing else on the page names it.
//
// An experiment module default-exports:
//   id        html id of its section (also the URL fragment), e.g. 'flash-vs-naive'
//   title     section heading
//   order     position on the page (smaller first)
//   intro     short HTML: what it shows and why
//   controls  a list built with ui/controls.js (int, checkbox, pow2Range, text, intList)
//   calls     the core functions it calls, e.g. ['runAttention']: the section
//             checks the module has them before the first run, and gives run()
//             a client that rejects any other (core/client.js, scope)
//   warmUp    optional: untimed core calls run once before its first timed point
//             (lib/warm-up.js), [{ fn, args }] or async (core) => { ... }
//   arrival   optional: the inputs of the run made when the section first comes
//             into view, e.g. { seqMax: 512, repeats: 1 } (input name -> value; a
//             small sweep, a few seconds); without it, the controls' defaults
//   run(values, core, onProgress) -> Promise<results>
//             values: what the controls hold; core: the worker client, limited
//             to `calls`; onProgress({ done, total, label, results }) after each
//             point (lib/sweep.js)
//   render(results, view, values)
//             draws with view.chart(key, spec) and view.table(key, spec) (and
//             view.figure(key, { title }) for a drawing of its own); called with
//             partial results during the run and with all of them at the end
import { checkWarmUp } from './lib/warm-up.js';

const modules = import.meta.glob('./experiments/*.js', { eager: true, import: 'default' });
const required = ['id', 'title', 'intro', 'controls', 'calls', 'run', 'render'];

export const experiments = Object.entries(modules)
  .map(([file, exp]) => {
    const missing = required.filter((k) => !(exp && k in exp));
    if (missing.length) throw new Error(`${file}: the default export lacks ${missing.join(', ')}`);
    if (!Array.isArray(exp.calls) || !exp.calls.every((fn) => typeof fn === 'string'))
      throw new Error(`${file}: calls must be a list of core function names`);
    checkWarmUp(exp.warmUp, file);
    if (exp.arrival !== undefined && (typeof exp.arrival !== 'object' || exp.arrival === null || Array.isArray(exp.arrival)))
      throw new Error(`${file}: arrival must be an object of input names and values, e.g. { seqMax: 512 }`);
    const undeclared = Array.isArray(exp.warmUp) ? exp.warmUp.filter(({ fn }) => !exp.calls.includes(fn)) : [];
    if (undeclared.length) throw new Error(`${file}: warmUp calls ${undeclared.map((s) => s.fn).join(', ')}, not in calls`);
    return exp;
  })
  .sort((a, b) => (a.order ?? 1e9) - (b.order ?? 1e9) || a.title.localeCompare(b.title));
