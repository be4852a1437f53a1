// The shell around one experiment: heading, intro, controls, Run, progress, error
// box and output. The section's data-state tells where it is: idle, running, done
// or error (handy for styling and for the browser test).
import { renderControls } from './controls.js';
import { createProgress } from './progress.js';
import { renderChart, destroyChart } from './charts.js';
import { renderTable } from './table.js';
import { el } from './dom.js';
import { warmUp } from '../lib/warm-up.js';

/** Output slots, created in the order render() first asks for them. */
export function createView(output) {
  const chartsBox = el('div', { className: 'charts' });
  const tablesBox = el('div', { className: 'tables' });
  output.append(chartsBox, tablesBox);
  const slots = new Map();

  function slot(kind, key, make) {
    const id = `${kind}:${key}`;
    if (!slots.has(id)) slots.set(id, make());
    return slots.get(id);
  }
  return {
    /** Draws chart `key` (see charts.js for the spec). */
    chart(key, spec) {
      const figure = slot('chart', key, () => {
        const f = el('figure', { className: 'chart', dataset: { chart: key } },
          el('figcaption', { textContent: spec.title }),
          el('div', { className: 'chart-canvas' }, el('canvas')));
        chartsBox.append(f);
        return f;
      });
      figure.querySelector('figcaption').textContent = spec.title;
      return renderChart(figure, spec);
    },
    /** Draws table `key` (see table.js for the spec). */
    table(key, spec) {
      const box = slot('table', key, () => {
        const b = el('div', { className: 'table', dataset: { table: key } });
        tablesBox.append(b);
        return b;
      });
      renderTable(box, spec);
    },
    /**
     * A figure the experiment draws itself (e.g. an animation), across the full
     * width: returns its body element, created once per run (data-figure=key).
     */
    figure(key, { title }) {
      const figure = slot('figure', key, () => {
        const f = el('figure', { className: 'chart custom-figure', dataset: { figure: key } },
          el('figcaption'), el('div', { className: 'figure-body' }));
        chartsBox.append(f);
        return f;
      });
      figure.querySelector('figcaption').textContent = title;
      return figure.querySelector('.figure-body');
    },
    /** Shows `content` as preformatted text under `title`. */
    text(key, { title, content }) {
      const box = slot('text', key, () => {
        const f = el('figure', { className: 'text-output', dataset: { text: key } },
          el('figcaption'), el('pre'));
        chartsBox.before(f);
        return f;
      });
      box.querySelector('figcaption').textContent = title;
      box.querySelector('pre').textContent = content;
    },
    clear() {
      for (const f of chartsBox.querySelectorAll('figure')) destroyChart(f);
      chartsBox.replaceChildren();
      tablesBox.replaceChildren();
      for (const f of output.querySelectorAll('.text-output')) f.remove();
      slots.clear();
    },
  };
}

export function mountExperiment(parent, experiment, core) {
  const headingId = `${experiment.id}-title`;
  const controlsBox = el('div', { className: 'fields' });
  const run = el('button', { type: 'submit', className: 'run', textContent: 'Run', dataset: { action: 'run' } });
  const form = el('form', { className: 'controls', noValidate: true }, controlsBox, el('div', { className: 'actions' }, run));
  const progressBox = el('div', { className: 'progress' });
  const errorBox = el('div', { className: 'error', role: 'alert', hidden: true });
  const output = el('div', { className: 'output' });
  const intro = el('div', { className: 'intro', innerHTML: experiment.intro });
  const section = el('section', { className: 'experiment', id: experiment.id, 'aria-labelledby': headingId, dataset: { state: 'idle' } },
    el('h2', { id: headingId, textContent: experiment.title }), intro, form, progressBox, errorBox, output);
  parent.append(section);

  const controls = renderControls(controlsBox, experiment.controls);
  const progress = createProgress(progressBox);
  const view = createView(output);
  // The experiment reaches the core only through what it declares it calls.
  const scoped = core.scope(experiment.calls, `${experiment.id}.js`);

  function showError(err) {
    errorBox.replaceChildren(el('strong', { textContent: 'Error: ' }), err.message);
    if (err.point) errorBox.append(el('span', { className: 'error-where', textContent: ` (at ${err.point.label})` }));
    errorBox.hidden = false;
  }

  /**
   * One run with these control values: the module's functions checked, the
   * experiment's warm-up (once per page), then its timed points, drawn as they
   * arrive. Returns when the section is done or failed.
   */
  async function start(values) {
    if (section.dataset.state === 'running') return;
    errorBox.hidden = true;
    errorBox.replaceChildren();
    section.dataset.state = 'running';
    run.disabled = true;
    run.textContent = 'Running…';
    view.clear();
    const t0 = performance.now();
    let rendering = Promise.resolve();
    let reached = { done: 0, total: 0, label: '' };
    let rendered = 0; // results drawn so far: progress within a point redraws nothing
    try {
      await scoped.check();
      progress.busy('warming up the core (untimed runs)');
      await warmUp(scoped, experiment.warmUp);
      const results = await experiment.run(values, scoped, ({ done, total, label, results: partial }) => {
        reached = { done, total, label };
        progress.update(done, total, label);
        if (partial.length > 0 && partial.length !== rendered) {
          rendered = partial.length;
          const snapshot = partial.slice();
          rendering = rendering.then(() => experiment.render(snapshot, view, values));
        }
      });
      await rendering;
      await experiment.render(results, view, values);
      const s = ((performance.now() - t0) / 1000).toFixed(1);
      progress.finish(`${results.length} / ${results.length} done in ${s} s`);
      section.dataset.state = 'done';
    } catch (err) {
      await rendering.catch(() => {});
      showError(err);
      progress.fail(reached.total
        ? `stopped at ${reached.done + 1} / ${reached.total}: ${reached.label}`
        : 'stopped');
      section.dataset.state = 'error';
    } finally {
      run.disabled = false;
      run.textContent = 'Run';
    }
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (section.dataset.state === 'running') return;
    let values;
    try {
      values = controls.read();
    } catch (err) {
      errorBox.hidden = true;
      errorBox.replaceChildren();
      progress.hide();
      showError(err);
      section.dataset.state = 'error';
      return;
    }
    start(values);
  });
  // start(values) is also how a run begins without the Run button (e.g. a
  // default run when the section comes into view).
  return { section, start };
}
