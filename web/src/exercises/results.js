// Renders the outcome of Compile & Test (client.js) into a box: the verdict,
// each test case with its failed checks and their messages, compiler
// diagnostics, the program's own output.
import { el } from '../ui/dom.js';

const plural = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

const trapHints = [
  [/unreachable/, 'the program aborted (abort(), a failed assertion, or unreachable code)'],
  [/out of bounds/, 'a memory access out of bounds (an index past the end of a buffer, or a stack overflow)'],
  [/call stack|stack size/i, 'a stack overflow (infinite recursion?)'],
  [/divide by zero|integer divide/i, 'an integer division by zero'],
];

/** A trap's message in plain words. */
export function explainTrap(message) {
  const hint = trapHints.find(([re]) => re.test(message));
  return hint ? `${hint[1]} — ${message}` : message;
}

/** The verdict of an outcome: 'passed', 'failed', 'compile-error', 'timeout' or 'trap'. */
export function verdict(outcome) {
  if (outcome.kind !== 'tested') return outcome.kind;
  const { summary, cases } = outcome.report;
  const failed = cases.some((c) => c.passed === false);
  return !failed && summary && summary.failedCases === 0 && cases.length > 0 && outcome.exitCode === 0
    ? 'passed' : 'failed';
}

function failureItem(f) {
  const where = f.file ? `${f.file.replace(/^.*\//, '')}:${f.line}` : '';
  const lines = [...(f.context ?? [])];
  if (f.event === 'message' && f.text) lines.push(f.text);
  const item = el('li', { className: 'failure' });
  if (where) item.append(el('div', { className: 'failure-where', textContent: where }));
  if (lines.length) item.append(el('div', { className: 'failure-message' }, ...lines.map((l) => el('div', { textContent: l }))));
  if (f.expr) {
    item.append(el('div', { className: 'failure-expr' },
      el('code', { textContent: f.expr }), f.values && f.values !== f.expr
        ? el('span', { className: 'failure-values' }, ' with values ', el('code', { textContent: f.values })) : ''));
  }
  return item;
}

function caseItem(c, state) {
  const mark = { passed: '✓', failed: '✗', crashed: '✗', stopped: '■' }[state] ?? '·';
  const li = el('li', { className: 'case', dataset: { caseState: state } },
    el('div', { className: 'case-head' },
      el('span', { className: 'case-mark', textContent: mark, 'aria-hidden': 'true' }),
      el('span', { className: 'case-name', textContent: c.name }),
      state === 'passed' || state === 'failed'
        ? el('span', { className: 'case-detail', textContent: `${plural(c.asserts, 'check')}${c.failed ? `, ${c.failed} failed` : ''}` })
        : el('span', { className: 'case-detail', textContent: state === 'stopped' ? 'stopped by the watchdog' : 'crashed' })));
  if (c.failures.length) {
    // the first two failed checks; the rest one click away
    li.append(el('ol', { className: 'failures' }, ...c.failures.slice(0, 2).map(failureItem)));
    const rest = c.failures.slice(2);
    if (rest.length) {
      li.append(el('details', { className: 'failure-more' },
        el('summary', { textContent: `${plural(rest.length, 'more failed check')}` }),
        el('ol', { className: 'failures' }, ...rest.map(failureItem))));
    }
  }
  return li;
}

function diagnosticsList(diagnostics, onJump) {
  const items = diagnostics.filter((d) => d.severity !== 'note').map((d) => {
    const label = `${d.file}:${d.line}:${d.column}`;
    const jump = d.file === 'exercise.cpp'
      ? el('button', { type: 'button', className: 'link', textContent: label, onclick: () => onJump?.(d) })
      : el('span', { textContent: label });
    return el('li', { className: `diagnostic diagnostic-${d.severity}`, dataset: { file: d.file, line: String(d.line) } },
      jump, el('span', { className: 'diagnostic-severity', textContent: ` ${d.severity}: ` }), d.message);
  });
  return el('ul', { className: 'diagnostics', dataset: { test: 'diagnostics' } }, ...items);
}

function details(summary, text) {
  return el('details', { className: 'raw' }, el('summary', { textContent: summary }), el('pre', { textContent: text }));
}

/**
 * Fills `box` with the outcome. options.onJump(diagnostic) moves the editor to
 * a diagnostic's line.
 */
export function renderOutcome(box, outcome, { onJump } = {}) {
  const v = verdict(outcome);
  box.replaceChildren();
  box.dataset.outcome = v;
  const headline = el('div', { className: `outcome outcome-${v}`, role: 'status' });
  box.append(headline);

  if (v === 'compile-error') {
    const errors = outcome.diagnostics.filter((d) => d.severity === 'error').length;
    headline.textContent = outcome.stage === 'link'
      ? '✗ Compiled, but does not link'
      : `✗ Does not compile: ${plural(errors || 1, 'error')}`;
    box.append(diagnosticsList(outcome.diagnostics, onJump), details('compiler output', outcome.log));
    return;
  }

  const { cases, summary, output } = outcome.report;
  const failed = cases.filter((c) => c.passed === false).length;
  if (v === 'passed') headline.textContent = `✓ All ${plural(cases.length, 'test case')} pass`;
  else if (v === 'failed') {
    headline.textContent = summary
      ? `✗ ${failed} of ${plural(summary.cases, 'test case')} ${failed === 1 ? 'fails' : 'fail'}`
      : `✗ The test program exited with status ${outcome.exitCode} before the end of the tests`;
  } else if (v === 'timeout') {
    headline.textContent = `■ Stopped after ${outcome.seconds} s` + (outcome.running
      ? `: test case “${outcome.running}” was still running (an infinite loop?)` : '') +
      '. The page stopped the test program; edit and run again.';
  } else if (v === 'trap') {
    headline.textContent = `✗ The test program crashed${outcome.running ? ` in “${outcome.running}”` : ''}: ${explainTrap(outcome.message)}`;
  }

  const stateOf = (c) => (c.passed === true ? 'passed' : c.passed === false ? 'failed' : v === 'timeout' ? 'stopped' : 'crashed');
  box.append(el('ol', { className: 'cases', dataset: { test: 'cases' } }, ...cases.map((c) => caseItem(c, stateOf(c)))));
  const warnings = outcome.diagnostics?.filter((d) => d.severity === 'warning') ?? [];
  if (warnings.length) box.append(el('div', { className: 'warnings-title', textContent: `Compiler ${plural(warnings.length, 'warning')}:` }),
    diagnosticsList(warnings, onJump));
  const printed = [...output, ...(outcome.stderr ?? [])];
  if (printed.length) box.append(details(`program output (${plural(printed.length, 'line')})`, printed.join('\n')));
}
