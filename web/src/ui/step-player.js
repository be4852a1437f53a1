// A step-through: play/pause, a step slider, a "step n / N" label and an SVG picture
// redrawn for each step (the paged KV cache's pool, flash attention's tiles). The
// player's state lives on the figure body, so a render with the same data keeps it
// and a new run (new data) starts over; the timer stops once the body leaves the page.
const svgNS = 'http://www.w3.org/2000/svg';

/**
 * body: the figure body; data: what the steps come from (identity decides a redraw);
 * count: the number of steps; label: the slider's accessible name; className: the
 * picture's classes; intervalMs: time per step when playing; draw(picture, step).
 */
export function renderStepPlayer(body, { data, count, label, className = 'pool-svg', intervalMs, draw }) {
  if (body.player?.data === data) return;
  clearInterval(body.player?.timer);
  const play = Object.assign(document.createElement('button'), { type: 'button', className: 'pool-play' });
  play.dataset.action = 'play';
  const slider = Object.assign(document.createElement('input'), { type: 'range', min: 0,
    max: count - 1, value: 0, step: 1 });
  slider.setAttribute('aria-label', label);
  const stepText = document.createElement('span');
  stepText.className = 'pool-step';
  const bar = document.createElement('div');
  bar.className = 'pool-controls';
  bar.append(play, slider, stepText);
  const picture = document.createElementNS(svgNS, 'svg');
  picture.setAttribute('class', className);
  picture.setAttribute('role', 'img');
  body.replaceChildren(bar, picture);

  const state = { data, timer: null };
  body.player = state;
  const show = (step) => {
    slider.value = String(step);
    stepText.textContent = `step ${step + 1} / ${count}`;
    body.dataset.step = String(step);
    body.dataset.steps = String(count);
    draw(picture, step);
  };
  const stop = () => {
    clearInterval(state.timer);
    state.timer = null;
    play.textContent = '▶ play';
    body.dataset.playing = 'false';
  };
  const start = () => {
    if (Number(slider.value) >= count - 1) show(0);
    state.timer = setInterval(() => {
      if (!body.isConnected) { clearInterval(state.timer); return; } // a new run cleared the figure
      const next = Number(slider.value) + 1;
      if (next >= count) stop();
      else show(next);
    }, intervalMs);
    play.textContent = '❚❚ pause';
    body.dataset.playing = 'true';
  };
  play.addEventListener('click', () => (state.timer ? stop() : start()));
  slider.addEventListener('input', () => { stop(); show(Number(slider.value)); });
  show(0);
  start();
}
