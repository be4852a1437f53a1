// The shell around one experiment: heading, intro, controls, Run, progress, error
// box and output. The section's data-state tells where it is: idle, running, done
// or error (handy for styling and for the browser test).
import { renderControls } from './controls.js';
import { createProgress } from './progress.js';
import { renderChart, destroyChart } from './charts.js';
import { renderTable } from './table.js';
import { el } from './dom.js';
import { warmUp } from '../lib/warm-up.js';
import { keepResults, keptResults, forgetResults } from './kept.js';
import { sectionLink } from './share.js';
import { enqueue } from './arrival.js';

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
          el('figcaption'), el('pre', { tabIndex: 0 })); // focusable: long text scrolls
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
  const copyLink = el('button', { type: 'button', className: 'copy-link', textContent: 'Copy link', dataset: { action: 'copy-link' },
    title: 'A link to this section with these parameters: whoever opens it sees them run' });
  const shareBox = el('div', { className: 'share', hidden: true, role: 'status' });
  const form = el('form', { className: 'controls', noValidate: true }, controlsBox,
    el('div', { className: 'actions' }, run, copyLink), shareBox);
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
  // Runs other than the Run button's: the first one when the section comes into
  // view (ui/arrival.js), the one a share link asks for. `claimed` is set once
  // the section has shown anything, so an arrival run never replaces it.
  let claimed = false;

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
  async function start(values, params = controls.params()) {
    if (section.dataset.state === 'running') return;
    claimed = true;
    shareBox.hidden = true;
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
      keepResults(experiment.id, { params, values, results });
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

  /** The controls' values, or null after showing why they cannot be read. */
  function readControls() {
    try {
      return controls.read();
    } catch (err) {
      errorBox.hidden = true;
      errorBox.replaceChildren();
      progress.hide();
      showError(err);
      section.dataset.state = 'error';
      return null;
    }
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (section.dataset.state === 'running') return;
    const values = readControls();
    if (values) start(values);
  });

  copyLink.addEventListener('click', async () => {
    if (!readControls()) return;
    const link = sectionLink(experiment.id, controls.params());
    const field = el('input', { type: 'text', readOnly: true, value: link, className: 'share-link',
      'aria-label': `Link to ${experiment.title} with these parameters` });
    let copied = false;
    try { await navigator.clipboard.writeText(link); copied = true; } catch { /* no clipboard permission: the field is there */ }
    shareBox.replaceChildren(el('span', { textContent: `${copied ? 'Link copied' : 'Copy this link'}: it runs this section with these parameters (nothing is uploaded). ` }), field);
    shareBox.hidden = false;
    field.focus();
    field.select();
  });

  /** Fills the controls from `params` (input name -> text) and runs them; `source` names where they came from. */
  function runParams(params, source) {
    claimed = true;
    try {
      controls.fill(params);
    } catch (err) {
      showError(new Error(`${source} do not fit: ${err.message}`));
      section.dataset.state = 'error';
      return Promise.resolve();
    }
    const values = readControls();
    return values ? start(values) : Promise.resolve();
  }

  /** Draws the results kept from the last run, if any; whether it did. */
  async function showKept() {
    const kept = keptResults(experiment.id);
    if (!kept) return false;
    try {
      controls.fill(kept.params);
      await experiment.render(kept.results, view, kept.values);
    } catch {
      view.clear(); // kept by a page whose controls or results differed: run afresh
      forgetResults(experiment.id);
      return false;
    }
    const when = new Date(kept.at).toLocaleString();
    progress.finish(`your last results (${when}), kept in this browser: Run measures again`);
    section.dataset.state = 'done';
    section.dataset.kept = 'true';
    return true;
  }

  return {
    section,
    start,
    /** True the first time, false once the section ran or was claimed. */
    claim: () => !claimed && section.dataset.state === 'idle' && (claimed = true),
    showKept,
    /** Marks the section as waiting its turn for an arrival run. */
    waiting: () => { if (section.dataset.state === 'idle') progress.busy('queued: runs its default sweep after the sections before it'); },
    /** The arrival run: the experiment's `arrival` inputs (else the defaults), unless the learner ran it meanwhile. */
    runDefaults: () => (section.dataset.state === 'idle'
      ? (experiment.arrival ? runParams(experiment.arrival, `${experiment.id}.js's arrival inputs`) : start(controls.read()))
      : Promise.resolve()),
    /** A share link's run: fills the controls, shows the section and queues the run. */
    openLink(params) {
      claimed = true;
      section.scrollIntoView();
      progress.busy('queued: runs the link\'s parameters');
      return enqueue(() => runParams(params, 'this link\'s parameters'));
    },
  };
}
