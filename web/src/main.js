import './style.css';
import { createCore } from './core/client.js';
import { experiments } from './registry.js';
import { mountExperiment } from './ui/section.js';
import { preloadCharts } from './ui/charts.js';
import { arriveOnView } from './ui/arrival.js';
import { readSectionLink } from './ui/share.js';

const core = createCore();
const status = document.querySelector('#core-status');
const nav = document.querySelector('#toc');
const main = document.querySelector('main');

const mounted = new Map();
for (const exp of experiments) {
  mounted.set(exp.id, mountExperiment(main, exp, core));
  const a = document.createElement('a');
  a.href = `#${exp.id}`;
  a.textContent = exp.title;
  nav.append(a);
}

// A share link (#gqa?seqMin=64&...) fills its section and runs it; every other
// section shows its kept results or runs its defaults as it comes into view
// (?autorun=0 turns the arrival runs off: for scripts and tests that time their own).
function openSectionLink() {
  const link = readSectionLink(location.hash);
  mounted.get(link?.id)?.openLink(link.params);
}
openSectionLink();
window.addEventListener('hashchange', openSectionLink);
if (new URLSearchParams(location.search).get('autorun') !== '0') arriveOnView([...mounted.values()]);

// The exercises (editor, in-browser compiler) come in a chunk of their own, after
// the experiments; the compiler itself loads only on the first Compile & Test.
const exercisesLink = document.createElement('a');
exercisesLink.href = '#exercises';
exercisesLink.textContent = 'Exercises';
nav.append(exercisesLink);
import('./exercises/index.js').then(
  ({ mountExercises }) => mountExercises(main, { core }),
  (err) => {
    const box = document.createElement('div');
    box.className = 'error';
    box.setAttribute('role', 'alert');
    box.textContent = `The exercises failed to load: ${err.message}`;
    main.append(box);
  },
);

// Load the module and the charts while the learner reads.
core.ready().then(
  () => { status.textContent = 'core ready'; status.dataset.state = 'ready'; },
  (err) => { status.textContent = 'core failed to load'; status.title = err.message; status.dataset.state = 'failed'; },
);
preloadCharts();
