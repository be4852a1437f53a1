// Every file in src/experiments/ is an experiment: adding one is adding one file.
//
// An experiment module default-exports:
//   id        html id of its section (also the URL fragment), e.g. 'flash-vs-naive'
//   title     section heading
//   order     position on the page (smaller first)
//   intro     short HTML: what it shows and why
//   controls  a list built with ui/controls.js (int, checkbox, pow2Range)
//   run(values, core, onProgress) -> Promise<results>
//             values: what the controls hold; core: the worker client (core/client.js);
//             onProgress({ done, total, label, results }) after each point (lib/sweep.js)
//   render(results, view, values)
//             draws with view.chart(key, spec) and view.table(key, spec) (and
//             view.figure(key, { title }) for a drawing of its own); called with
//             partial results during the run and with all of them at the end
const modules = import.meta.glob('./experiments/*.js', { eager: true, import: 'default' });
const required = ['id', 'title', 'intro', 'controls', 'run', 'render'];

export const experiments = Object.entries(modules)
  .map(([file, exp]) => {
    const missing = required.filter((k) => !(exp && k in exp));
    if (missing.length) throw new Error(`${file}: the default export lacks ${missing.join(', ')}`);
    return exp;
  })
  .sort((a, b) => (a.order ?? 1e9) - (b.order ?? 1e9) || a.title.localeCompare(b.title));
