// The learner's work, kept in localStorage: it survives a reload and a browser
// restart, and never leaves the machine. Per exercise:
//   memlab.exercise.<slug>.code     the editor's text (absent: the skeleton)
//   memlab.exercise.<slug>.status   'failing' or 'passing' after a run (absent: not started)
//   memlab.exercise.<slug>.hints    how many of its hints are shown (absent: none)
//   memlab.exercise.selected        the exercise open last
const prefix = 'memlab.exercise.';

function get(key) {
  try { return localStorage.getItem(prefix + key); } catch { return null; }
}
function set(key, value) {
  try {
    if (value === null) localStorage.removeItem(prefix + key);
    else localStorage.setItem(prefix + key, value);
  } catch { /* storage full or disabled: the work stays in the editor */ }
}

export const statuses = { 'not-started': 'not started', failing: 'failing', passing: 'passing' };

export const store = {
  /** The saved code, or the skeleton. */
  code: (exercise) => get(`${exercise.slug}.code`) ?? exercise.skeleton,
  saveCode(exercise, code) { set(`${exercise.slug}.code`, code === exercise.skeleton ? null : code); },
  status: (exercise) => get(`${exercise.slug}.status`) ?? 'not-started',
  saveStatus(exercise, status) { set(`${exercise.slug}.status`, status === 'not-started' ? null : status); },
  /** How many hints are shown, 0 .. exercise.hints.length. */
  hintsShown: (exercise) => Math.min(Number(get(`${exercise.slug}.hints`)) || 0, exercise.hints.length),
  saveHintsShown(exercise, n) { set(`${exercise.slug}.hints`, n > 0 ? String(n) : null); },
  /** Touched: code other than the skeleton, or run at least once. */
  touched: (exercise) => store.code(exercise) !== exercise.skeleton || store.status(exercise) !== 'not-started',
  selected: () => get('selected'),
  saveSelected(slug) { set('selected', slug); },
};
