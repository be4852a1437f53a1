// An exercise's hints (exercises/NN-slug/hints.md), folded under the README and
// revealed one at a time, from the idea to the detail; how many are shown is
// kept with the learner's work.
import { el } from '../ui/dom.js';

/**
 * Fills `box` with the hints of `exercise`, `shown` of them revealed.
 * markdown(text) -> html; onReveal(n) when the learner reveals the n-th.
 */
export function renderHints(box, exercise, { shown, markdown, onReveal }) {
  const { hints } = exercise;
  box.replaceChildren();
  box.hidden = hints.length === 0;
  if (!hints.length) return;
  const count = el('span', { className: 'hints-count' });
  const list = el('ol', { className: 'hints-list' });
  const more = el('button', { type: 'button', className: 'secondary', dataset: { action: 'hint' } });
  const details = el('details', { className: 'exercise-hints', dataset: { test: 'hints' } },
    el('summary', {}, 'Hints ', count), list, more);
  box.append(details);

  const show = (n) => {
    list.replaceChildren(...hints.slice(0, n).map((h, i) => el('li', { className: 'hint', dataset: { hint: String(i + 1) } },
      el('div', { className: 'hint-title', textContent: h.title }),
      el('div', { className: 'hint-body markdown', innerHTML: markdown(h.body) }))));
    count.textContent = `(${n} of ${hints.length} shown)`;
    more.hidden = n >= hints.length;
    more.textContent = n === 0 ? `Show hint 1 of ${hints.length}` : `Show hint ${n + 1} of ${hints.length} (more detail)`;
    details.dataset.shown = String(n);
  };
  more.addEventListener('click', () => {
    const n = Number(details.dataset.shown) + 1;
    show(n);
    onReveal(n);
    list.lastElementChild?.scrollIntoView({ block: 'nearest' });
  });
  show(shown);
  // the learner who already revealed some finds them open
  details.open = shown > 0;
}
