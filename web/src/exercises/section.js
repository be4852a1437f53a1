// The Exercises section: the list with each exercise's status, its README and
// hints, a C++ editor holding the learner's code, Compile & Test (also
// Ctrl/Cmd+Enter) / Reset / Download / Share link, progress, results marked on
// the editor, and, once the tests pass, a comparison with the core. For all the
// exercises: Download all (the graders' zip), Export and Import progress.
// data-state on the section: idle, running, done; data-exercise: the slug.
import { Marked } from 'marked';
import { el } from '../ui/dom.js';
import { createProgress } from '../ui/progress.js';
import { exercises } from './catalog.js';
import { createExerciseLab } from './client.js';
import { createEditor } from './editor.js';
import { renderHints } from './hints.js';
import { applyProgress, exportProgress, gradersLayout, readProgress, readShareLink, shareLink, zipExercises } from './progress.js';
import { renderOutcome, verdict } from './results.js';
import { statuses, store } from './store.js';
import './exercises.css';
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

function download(name, data, type = 'text/x-c++src') {
  const url = URL.createObjectURL(new Blob([data], { type }));
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
  // focusable: it scrolls, and a keyboard must be able to scroll it
  const readme = el('article', { className: 'exercise-readme markdown', tabIndex: 0, 'aria-label': 'The exercise' });
  const editorBox = el('div', { className: 'exercise-editor', dataset: { test: 'editor' } });
  const testButton = el('button', { type: 'button', className: 'run', textContent: 'Compile & Test', dataset: { action: 'test' },
    title: 'Compile your code with the tests and run them (Ctrl+Enter)' });
  const resetButton = el('button', { type: 'button', className: 'secondary', textContent: 'Reset', dataset: { action: 'reset' } });
  const downloadButton = el('button', { type: 'button', className: 'secondary', textContent: 'Download .cpp', dataset: { action: 'download' } });
  const shareButton = el('button', { type: 'button', className: 'secondary', textContent: 'Share link', dataset: { action: 'share' },
    title: 'A link holding your code for this exercise, compressed in the URL: nothing is uploaded' });
  const hintsBox = el('div', { className: 'exercise-hints-box' });
  // for every exercise at once
  const zipButton = el('button', { type: 'button', className: 'secondary', textContent: 'Download all (.zip)', dataset: { action: 'download-all' },
    title: 'Every exercise you touched, as NN-slug/exercise.cpp: the layout graders use (./lab grade)' });
  const exportButton = el('button', { type: 'button', className: 'secondary', textContent: 'Export progress', dataset: { action: 'export' },
    title: 'Your code, statuses and hints shown, as a file to import in another browser' });
  const importInput = el('input', { type: 'file', accept: '.json,application/json', hidden: true, dataset: { test: 'import-file' } });
  const importButton = el('button', { type: 'button', className: 'secondary', textContent: 'Import progress…', dataset: { action: 'import' } });
  const summary = el('span', { className: 'exercise-summary', dataset: { test: 'summary' } });
  const notice = el('div', { className: 'exercise-notice', role: 'status', dataset: { test: 'notice' } });
  const timing = el('span', { className: 'exercise-timing', dataset: { test: 'timing' } });
  const progressBox = el('div', { className: 'progress' });
  const results = el('div', { className: 'exercise-results', dataset: { test: 'results' } });
  const comparison = el('div', { className: 'exercise-comparison', dataset: { test: 'comparison' } });
  const confirmButton = el('button', { value: 'confirm', className: 'danger' });
  const cancelButton = el('button', { value: 'cancel', className: 'secondary', textContent: 'Cancel' });
  const confirmDialog = el('dialog', { className: 'confirm' },
    el('form', { method: 'dialog' },
      el('p', { className: 'confirm-text' }),
      el('div', { className: 'actions' }, cancelButton, confirmButton)));

  const section = el('section', { className: 'exercises', id: 'exercises', 'aria-labelledby': 'exercises-title',
    dataset: { state: 'idle' } },
  el('h2', { id: 'exercises-title', textContent: 'Exercises' }),
  el('div', { className: 'intro', innerHTML: `
    <p>Write the techniques yourself, in C++. Your code is compiled <em>in this page</em> by clang
    (LLVM compiled to WebAssembly) together with the exercise's doctest tests, and run here: nothing
    to install, nothing sent anywhere. A grader runs the very same files natively with
    <code>./lab grade</code>. Your code is saved in this browser as you type; Ctrl+Enter (⌘+Enter)
    compiles and tests it.</p>
    <p class="credits">Tests use <a href="https://github.com/doctest/doctest">doctest</a>
    (<a href="${doctestLicenseUrl}">MIT licence</a>); the compiler is
    <a href="https://yowasp.org/">YoWASP</a>'s clang.</p>` }),
  list,
  el('div', { className: 'exercise-actions' }, summary, zipButton, exportButton, importButton, importInput),
  notice,
  el('div', { className: 'exercise-layout' },
    el('div', { className: 'exercise-info' }, readme, hintsBox),
    el('div', { className: 'exercise-work' },
      el('div', { className: 'exercise-toolbar' }, testButton, resetButton, downloadButton, shareButton, timing),
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
    list.append(el('li', { role: 'presentation' }, tab)); // the tablist's children are its tabs
    tabs.set(exercise.slug, { tab, badge });
  }
  function showStatus(exercise) {
    const status = store.status(exercise);
    const { tab, badge } = tabs.get(exercise.slug);
    tab.dataset.status = status;
    badge.textContent = statuses[status];
    const count = (s) => exercises.filter((e) => store.status(e) === s).length;
    summary.textContent = `${count('passing')} of ${exercises.length} passing` +
      (count('failing') ? `, ${count('failing')} failing` : '');
  }
  exercises.forEach(showStatus);

  // A message under the list (imports, links, downloads); `extra`: more nodes.
  function say(text, { tone = 'info', extra = [] } = {}) {
    notice.dataset.tone = tone;
    notice.replaceChildren(el('span', { textContent: text }), ...extra);
  }

  // The one confirmation dialog: resolves true when the learner confirms.
  function ask(text, { confirm, action }) {
    confirmDialog.querySelector('.confirm-text').textContent = text;
    confirmButton.textContent = confirm;
    confirmButton.dataset.action = action;
    confirmDialog.returnValue = '';
    confirmDialog.showModal();
    return new Promise((resolve) => confirmDialog.addEventListener('close',
      () => resolve(confirmDialog.returnValue === 'confirm'), { once: true }));
  }

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
    for (const pre of readme.querySelectorAll('pre')) pre.tabIndex = 0; // wide code scrolls sideways
    renderHints(hintsBox, exercise, {
      shown: store.hintsShown(exercise),
      markdown: (text) => readmeMarkdown.parse(text),
      onReveal: (n) => store.saveHintsShown(exercise, n),
    });
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
  // Ctrl/Cmd+Enter anywhere in the section (the editor handles its own first)
  section.addEventListener('keydown', (event) => {
    if (event.key !== 'Enter' || !(event.ctrlKey || event.metaKey) || event.defaultPrevented) return;
    event.preventDefault();
    compileAndTest();
  });

  // ---- reset and download -------------------------------------------------------------
  resetButton.addEventListener('click', async () => {
    const exercise = current;
    const ok = await ask(`Reset exercise ${exercise.number}, ${exercise.title}, to its skeleton? Your code for it will be lost.`,
      { confirm: 'Reset', action: 'confirm-reset' });
    if (!ok || exercise !== current) return;
    clearTimeout(saveTimer);
    store.saveCode(current, current.skeleton);
    store.saveStatus(current, 'not-started');
    showStatus(current);
    show(current);
  });
  downloadButton.addEventListener('click', () => download(`${current.slug}-exercise.cpp`, editor.get()));

  // ---- all the exercises: the graders' zip, the progress file ------------------------
  zipButton.addEventListener('click', () => {
    saveNow();
    const files = gradersLayout(exercises);
    const names = Object.keys(files);
    if (!names.length) { say('Nothing to download yet: no exercise has been edited or run.'); return; }
    download('memlab-exercises.zip', zipExercises(files), 'application/zip');
    say(`Downloaded memlab-exercises.zip: ${names.length} exercise${names.length === 1 ? '' : 's'} (${names.map((n) => n.slice(0, 2)).join(', ')}), ` +
      'as NN-slug/exercise.cpp — unpack it into a folder of its own for ./lab grade.');
  });
  exportButton.addEventListener('click', () => {
    saveNow();
    download('memlab-progress.json', exportProgress(exercises), 'application/json');
    say('Exported memlab-progress.json: import it in another browser to carry on.');
  });
  importButton.addEventListener('click', () => importInput.click());
  importInput.addEventListener('change', async () => {
    const file = importInput.files[0];
    importInput.value = '';
    if (!file || section.dataset.state === 'running') return;
    let progress;
    try {
      progress = readProgress(await file.text(), exercises);
    } catch (e) {
      say(`${file.name} was not imported: ${e.message}`, { tone: 'error' });
      return;
    }
    const { entries, unknown } = progress;
    const skipped = unknown.length ? ` (not in this page, skipped: ${unknown.join(', ')})` : '';
    if (!entries.length) { say(`${file.name} holds no exercise of this page${skipped}.`, { tone: 'error' }); return; }
    saveNow();
    const numbers = entries.map((e) => e.exercise.number).join(', ');
    const replaced = entries.filter((e) => store.touched(e.exercise) && store.code(e.exercise) !== e.code);
    if (replaced.length) {
      const ok = await ask(`Import ${file.name}? It replaces your code and status for exercise${entries.length === 1 ? '' : 's'} ${numbers}` +
        ` (your own code differs in ${replaced.map((e) => e.exercise.number).join(', ')}). The other exercises keep your work.`,
      { confirm: 'Import', action: 'confirm-import' });
      if (!ok) return;
    }
    applyProgress(entries);
    exercises.forEach(showStatus);
    show(current);
    say(`Imported ${entries.length} exercise${entries.length === 1 ? '' : 's'} (${numbers}) from ${file.name}${skipped}.`);
  });

  // ---- share links ---------------------------------------------------------------------
  shareButton.addEventListener('click', async () => {
    const link = shareLink(current.slug, editor.get());
    const field = el('input', { type: 'text', readOnly: true, value: link, className: 'share-link', dataset: { test: 'share-link' },
      'aria-label': 'Link to your code' });
    let copied = false;
    try { await navigator.clipboard.writeText(link); copied = true; } catch { /* no clipboard permission: the field is there */ }
    say(`${copied ? 'Link copied' : 'Copy this link'}: it holds your code for exercise ${current.number}, compressed ` +
      `(${link.length} characters). It is not uploaded anywhere; whoever opens it is asked before their own code is replaced.`,
    { extra: [field] });
    field.focus();
    field.select();
  });

  // A link made by Share link: open its exercise with its code, asking before
  // replacing code of the learner's own. The fragment is then dropped, so that a
  // reload does not ask again.
  async function openShareLink() {
    let shared;
    try {
      shared = readShareLink(location.hash);
    } catch (e) {
      say(`This link's code was not opened: ${e.message}`, { tone: 'error' });
      return;
    }
    if (!shared) return;
    notice.replaceChildren(); // (a message about an earlier link)
    saveNow();
    history.replaceState(null, '', location.pathname + location.search + '#exercises');
    section.scrollIntoView();
    const exercise = exercises.find((e) => e.slug === shared.slug);
    if (!exercise) { say(`This link is for exercise ${shared.slug}, which this page does not have.`, { tone: 'error' }); return; }
    show(exercise);
    const mine = store.code(exercise);
    if (mine === shared.code) { say(`The link's code for exercise ${exercise.number} is already yours.`); return; }
    if (mine !== exercise.skeleton) {
      const ok = await ask(`This link holds code for exercise ${exercise.number}, ${exercise.title}. Replace your saved code for it ` +
        `(${mine.split('\n').length} lines) with the link's (${shared.code.split('\n').length} lines)? Yours will be lost unless you keep it.`,
      { confirm: 'Replace mine', action: 'confirm-share' });
      if (!ok) { say(`Kept your code for exercise ${exercise.number}; the link's code was not loaded.`); return; }
    }
    store.saveCode(exercise, shared.code);
    store.saveStatus(exercise, 'not-started');
    showStatus(exercise);
    if (exercise === current) show(exercise);
    say(`Opened the code shared in the link for exercise ${exercise.number}, ${exercise.title}.`);
  }
  window.addEventListener('hashchange', openShareLink);

  // the editor's text, for scripts and the browser test (the editor renders only
  // the lines in view)
  section.editorText = () => editor.get();
  show(current);
  openShareLink();
  return section;
}
