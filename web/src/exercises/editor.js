// The C++ editor: CodeMirror 6 with C++ highlighting, and compiler diagnostics
// shown as underlines and gutter markers on their lines.
import { EditorView, basicSetup } from 'codemirror';
import { cpp } from '@codemirror/lang-cpp';
import { indentWithTab } from '@codemirror/commands';
import { lintGutter, setDiagnostics } from '@codemirror/lint';
import { EditorState, Prec } from '@codemirror/state';
import { keymap } from '@codemirror/view';
import { HighlightStyle, syntaxHighlighting } from '@codemirror/language';
import { tags } from '@lezer/highlight';

const theme = EditorView.theme({
  '&': { fontSize: '13.5px', height: '100%' },
  '.cm-scroller': { fontFamily: "ui-monospace, 'SFMono-Regular', Menlo, Consolas, 'Liberation Mono', monospace", lineHeight: '1.5' },
  '.cm-content': { padding: '6px 0' },
});

// basicSetup's colours, but for the two below 4.5:1 on white (WCAG AA):
// escapes and special strings #e40 (3.8:1), invalid #f00 (4.0:1).
const readableColors = Prec.highest(syntaxHighlighting(HighlightStyle.define([
  { tag: [tags.regexp, tags.escape, tags.special(tags.string)], color: '#b33000' },
  { tag: tags.invalid, color: '#c00' },
])));

/**
 * parent: the element to fill. onChange(text) after every edit; onRun() on
 * Ctrl/Cmd-Enter. Returns { get, set(text), markDiagnostics(list), focus, view }.
 */
export function createEditor(parent, { text, onChange, onRun }) {
  const extensions = [
    basicSetup,
    cpp(),
    lintGutter(),
    theme,
    readableColors,
    EditorState.tabSize.of(2),
    // above basicSetup's keymap, where Mod-Enter inserts a blank line
    Prec.highest(keymap.of([{ key: 'Mod-Enter', run: () => { onRun?.(); return true; } }])),
    keymap.of([indentWithTab]),
    // a name for screen readers; tabindex makes the scroller's content count as focusable
    EditorView.contentAttributes.of({ 'aria-label': 'Your C++ code', tabindex: '0' }),
    EditorView.updateListener.of((u) => { if (u.docChanged) onChange?.(u.state.doc.toString()); }),
  ];
  const view = new EditorView({ parent, state: EditorState.create({ doc: text, extensions }) });

  return {
    view,
    get: () => view.state.doc.toString(),
    /** Replaces the whole text (switching exercise, reset): not an edit to undo into. */
    set(next) {
      view.setState(EditorState.create({ doc: next, extensions }));
    },
    /** list: [{ line, column, severity, message }] of exercise.cpp; [] clears. */
    markDiagnostics(list) {
      const doc = view.state.doc;
      const diagnostics = list.filter((d) => d.line >= 1 && d.line <= doc.lines).map((d) => {
        const line = doc.line(d.line);
        const from = Math.min(line.from + Math.max(d.column - 1, 0), line.to);
        // underline the word at the column, or the whole line
        const word = /^[\w:~]+/.exec(doc.sliceString(from, line.to))?.[0].length ?? 0;
        return {
          from: word ? from : line.from,
          to: word ? from + word : line.to,
          severity: d.severity === 'note' ? 'info' : d.severity,
          message: d.message,
        };
      });
      view.dispatch(setDiagnostics(view.state, diagnostics));
    },
    /** Puts the cursor at line:column (1-based) and scrolls there. */
    jumpTo(lineNumber, column = 1) {
      const line = view.state.doc.line(Math.min(Math.max(lineNumber, 1), view.state.doc.lines));
      const at = Math.min(line.from + Math.max(column - 1, 0), line.to);
      view.dispatch({ selection: { anchor: at }, scrollIntoView: true });
      view.focus();
    },
    focus: () => view.focus(),
  };
}
