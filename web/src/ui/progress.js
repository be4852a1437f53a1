// A progress bar with a one-line status, e.g. "3 / 5: seq 1024".
export function createProgress(container) {
  const bar = document.createElement('progress');
  bar.max = 1;
  bar.value = 0;
  const text = document.createElement('span');
  text.className = 'progress-text';
  text.setAttribute('role', 'status');
  text.setAttribute('aria-live', 'polite');
  container.append(bar, text);
  container.hidden = true;

  return {
    /** `done` points of `total` finished; `label` names the one running now. */
    update(done, total, label) {
      container.hidden = false;
      container.dataset.state = 'running';
      bar.max = Math.max(total, 1);
      bar.value = done;
      text.textContent = done < total ? `${done + 1} / ${total}: ${label}` : `${total} / ${total}`;
    },
    /** Work of unknown length (e.g. a warm-up): an indeterminate bar and `label`. */
    busy(label) {
      container.hidden = false;
      container.dataset.state = 'running';
      bar.removeAttribute('value');
      text.textContent = label;
    },
    finish(message) {
      container.dataset.state = 'done';
      bar.value = bar.max;
      text.textContent = message;
    },
    hide() {
      container.hidden = true;
    },
    fail(message) {
      container.dataset.state = 'failed';
      text.textContent = message;
    },
  };
}
