// The Exercises section: the list with each exercise's status, its README, a C++
// editor holding the learner's code, Compile & Test / Reset / Download, progress,
// results marked on the editor, and, once the tests pass, a comparison with the
// core. data-state on the section: idle, running, done; data-exercise: the slug.
import { Marked } from 'marked';
import { el } from '../ui/dom.js';
import { createProgress } from '../ui/progress.js';
import { exercises } from './catalog.js';
import { createExerciseLab } from './client.js';
import { createEditor } from './editor.js';
import { renderOutcome, verdict } from './results.js';
import { statuses, store } from './store.js';
import doctestLicenseUrl from '@exercises-generated/doctest-LICENSE.txt?url';

const formatSeconds = (ms) => `${(ms / 1000).toFixed(1)} s`;

// A README's "# 1. Title" is a heading inside the section's h2: shift them all down two levels.
const readmeMarkdown = new Marked({ walkTokens(token) { if (token.type === 'heading') token.depth = Math.min(token.depth + 2, 6); } });

function progressLabel({ phase, done, total, label }) {
  if (phase === 'download') return `loading the C++ toolchain (once): ${(done / 1e6).toFixed(0)} / ${(total / 1e6).toFixed(0)} MB`;
  if (phase === 'compile') return 'compiling exercise.cpp with test.cpp…';
  if (phase === 'link') return 'linking…';
  if (phase === 'run') return label ? `running: ${label}` : 'running the tests…';
  return phase;
}

function download(name, text) {
  const url = URL.createObjectURL(new Blob([text], { type: 'text/x-c++src' }));
  const a = el('a', { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** Mounts the section into `parent`. options.core: the core client, for the comparison chart. */
export function mountExercises(parent, { core, compare } = {}) {
  const lab = createExerciseLab();
  let current = exercises.find((e) => e.slug === store.selected()) ?? exercises[0];
  let saveTimer = null;
  let aheadTimer = null;

  const list = el('ol', { className: 'exercise-list', role: 'tablist', 'aria-label': 'Exercises' });
  const readme = el('article', { className: 'exercise-readme markdown' });
  const editorBox = el('div', { className: 'exercise-editor', dataset: { test: 'editor' } });
  const testButton = el('button', { type: 'button', className: 'run', textContent: 'Compile & Test', dataset: { action: 'test' },
    title: 'Compile your code with the tests and run them (Ctrl+Enter)' });
  const resetButton = el('button', { type: 'button', className: 'secondary', textContent: 'Reset', dataset: { action: 'reset' } });
  const downloadButton = el('button', { type: 'button', className: 'secondary', textContent: 'Download .cpp', dataset: { action: 'download' } });
  const timing = el('span', { className: 'exercise-timing', dataset: { test: 'timing' } });
  const progressBox = el('div', { className: 'progress' });
  const results = el('div', { className: 'exercise-results', dataset: { test: 'results' } });
  const comparison = el('div', { className: 'exercise-comparison', dataset: { test: 'comparison' } });
  const confirmDialog = el('dialog', { className: 'confirm' },
    el('form', { method: 'dialog' },
      el('p', { className: 'confirm-text' }),
      el('div', { className: 'actions' },
        el('button', { value: 'cancel', className: 'secondary', textContent: 'Cancel' }),
        el('button', { value: 'reset', className: 'danger', textContent: 'Reset', dataset: { action: 'confirm-reset' } }))));

  const section = el('section', { className: 'exercises', id: 'exercises', 'aria-labelledby': 'exercises-title',
    dataset: { state: 'idle' } },
  el('h2', { id: 'exercises-title', textContent: 'Exercises' }),
  el('div', { className: 'intro', innerHTML: `
    <p>Write the techniques yourself, in C++. Your code is compiled <em>in this page</em> by clang
    (LLVM compiled to WebAssembly) together with the exercise's doctest tests, and run here: nothing
    to install, nothing sent anywhere. A grader runs the very same files natively with
    <code>ctest -L exercise</code>. Your code is saved in this browser as you type.</p>
    <p class="credits">Tests use <a href="https://github.com/doctest/doctest">doctest</a>
    (<a href="${doctestLicenseUrl}">MIT licence</a>); the compiler is
    <a href="https://yowasp.org/">YoWASP</a>'s clang.</p>` }),
  list,
  el('div', { className: 'exercise-layout' },
    readme,
    el('div', { className: 'exercise-work' },
      el('div', { className: 'exercise-toolbar' }, testButton, resetButton, downloadButton, timing),
      editorBox, progressBox, results, comparison)),
  confirmDialog);
  parent.append(section);

  const progress = createProgress(progressBox);
  const editor = createEditor(editorBox, {
    text: store.code(current),
    onChange: (text) => {
      clearTimeout(saveTimer);
      saveTimer = setTimeout(() => store.saveCode(current, text), 250);
      clearTimeout(aheadTimer);
      aheadTimer = setTimeout(compileAhead, 1200);
    },
    onRun: () => testButton.click(),
  });
  const saveNow = () => { clearTimeout(saveTimer); store.saveCode(current, editor.get()); };
  window.addEventListener('pagehide', saveNow);
  document.addEventListener('visibilitychange', () => { if (document.visibilityState === 'hidden') saveNow(); });

  // ---- the list ----------------------------------------------------------------
  const tabs = new Map();
  for (const exercise of exercises) {
    const badge = el('span', { className: 'exercise-status' });
    const tab = el('button', { type: 'button', role: 'tab', className: 'exercise-tab', dataset: { slug: exercise.slug } },
      el('span', { className: 'exercise-number', textContent: String(exercise.number) }),
      el('span', { className: 'exercise-title', textContent: exercise.title.split(':')[0] }), badge);
    tab.title = exercise.title;
    tab.addEventListener('click', () => select(exercise));
    list.append(el('li', {}, tab));
    tabs.set(exercise.slug, { tab, badge });
  }
  function showStatus(exercise) {
    const status = store.status(exercise);
    const { tab, badge } = tabs.get(exercise.slug);
    tab.dataset.status = status;
    badge.textContent = statuses[status];
  }
  exercises.forEach(showStatus);

  function select(exercise) {
    if (section.dataset.state === 'running') return;
    if (exercise !== current) saveNow();
    show(exercise);
  }

  // Shows an exercise without saving the editor's text first.
  function show(exercise) {
    lab.stop(); // a comparison still measuring the previous exercise
    current = exercise;
    store.saveSelected(exercise.slug);
    for (const [slug, { tab }] of tabs) tab.setAttribute('aria-selected', String(slug === exercise.slug));
    section.dataset.exercise = exercise.slug;
    readme.innerHTML = readmeMarkdown.parse(exercise.readme);
    editor.set(store.code(exercise));
    results.replaceChildren();
    delete results.dataset.outcome;
    comparison.replaceChildren();
    delete comparison.dataset.state;
    progress.hide();
    timing.textContent = '';
  }

  // ---- compiling ahead --------------------------------------------------------------
  // When the learner pauses typing (and the toolchain is already loaded), compile
  // in the background like Compiler Explorer: errors appear on the editor's lines,
  // and Compile & Test then finds the program built.
  async function compileAhead() {
    if (section.dataset.state === 'running') return;
    const exercise = current;
    const text = editor.get();
    const answer = await lab.precompile({ 'exercise.cpp': text, 'test.cpp': exercise.test }).catch(() => null);
    if (!answer || exercise !== current || editor.get() !== text || section.dataset.state === 'running') return;
    editor.markDiagnostics(answer.diagnostics.filter((d) => d.file === 'exercise.cpp'));
  }

  // ---- compile & test ------------------------------------------------------------
  async function compileAndTest() {
    if (section.dataset.state === 'running') return;
    clearTimeout(aheadTimer);
    const exercise = current;
    saveNow();
    section.dataset.state = 'running';
    testButton.disabled = true;
    testButton.textContent = 'Running…';
    editor.markDiagnostics([]);
    results.replaceChildren();
    delete results.dataset.outcome;
    comparison.replaceChildren();
    delete comparison.dataset.state;
    timing.textContent = '';
    progress.update(0, 1, 'starting…');
    const t0 = performance.now();
    try {
      const outcome = await lab.compileAndTest({ 'exercise.cpp': editor.get(), 'test.cpp': exercise.test },
        (p) => progress.update(p.total ? Math.min(p.done, p.total) : 0, p.total || 1, progressLabel(p)));
      const total = performance.now() - t0;
      if (exercise !== current) return;
      const v = verdict(outcome);
      editor.markDiagnostics(outcome.diagnostics.filter((d) => d.file === 'exercise.cpp'));
      renderOutcome(results, outcome, { onJump: (d) => editor.jumpTo(d.line, d.column) });
      store.saveStatus(exercise, v === 'passed' ? 'passing' : 'failing');
      showStatus(exercise);
      const t = outcome.times;
      const parts = [outcome.cached ? 'already compiled' : null,
        t.load > 50 ? `toolchain ${formatSeconds(t.load)}` : null,
        t.compile != null ? `compile ${formatSeconds(t.compile)}` : null,
        t.link != null ? `link ${formatSeconds(t.link)}` : null,
        t.run != null ? `run ${formatSeconds(t.run)}` : null].filter(Boolean);
      timing.textContent = `${formatSeconds(total)} (${parts.join(', ')})`;
      timing.dataset.totalMs = String(Math.round(total));
      progress.hide();
      if (v === 'passed' && compare) {
        compare(exercise, editor.get(), comparison, { lab, core, progress }).catch((e) => {
          progress.hide();
          comparison.dataset.state = 'error';
          comparison.replaceChildren(el('div', { className: 'error', role: 'alert', textContent: `The comparison failed: ${e.message}` }));
        });
      }
    } catch (err) {
      progress.fail('stopped');
      results.replaceChildren(el('div', { className: 'error', role: 'alert' }, el('strong', { textContent: 'Error: ' }), err.message));
      results.dataset.outcome = 'error';
    } finally {
      section.dataset.state = 'done';
      testButton.disabled = false;
      testButton.textContent = 'Compile & Test';
    }
  }
  testButton.addEventListener('click', compileAndTest);

  // ---- reset and download -------------------------------------------------------------
  resetButton.addEventListener('click', () => {
    confirmDialog.querySelector('.confirm-text').textContent =
      `Reset exercise ${current.number}, ${current.title}, to its skeleton? Your code for it will be lost.`;
    confirmDialog.returnValue = '';
    confirmDialog.showModal();
  });
  confirmDialog.addEventListener('close', () => {
    if (confirmDialog.returnValue !== 'reset') return;
    clearTimeout(saveTimer);
    store.saveCode(current, current.skeleton);
    store.saveStatus(current, 'not-started');
    showStatus(current);
    show(current);
  });
  downloadButton.addEventListener('click', () => download(`${current.slug}-exercise.cpp`, editor.get()));

  // the editor's text, for scripts and the browser test (the editor renders only
  // the lines in view)
  section.editorText = () => editor.get();
  show(current);
  return section;
}
