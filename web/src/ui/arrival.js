// Results on arrival: every section shows something the first time it scrolls
// into view. Either the results kept from the learner's last run (kept.js), drawn
// at once, or a run of the section's defaults: the experiment's `arrival` inputs
// if it declares them (a small sweep), else its controls' own defaults.
//
// Arrival runs go one section at a time through one queue (the core worker runs
// one call at a time anyway; the queue keeps a section's sweep in one piece and
// makes the waiting visible). A section the learner runs, or a share link opens,
// before its turn comes is skipped.
const queue = { tail: Promise.resolve() };

/** Runs task() after every task enqueued before it (a failure does not stop the queue). */
export function enqueue(task) {
  const run = queue.tail.then(task);
  queue.tail = run.catch(() => {});
  return run;
}

/**
 * Watches the mounted sections (mountExperiment's return values); each one's
 * arrive() is queued the first time it comes into view.
 */
export function arriveOnView(mounted) {
  const byElement = new Map(mounted.map((m) => [m.section, m]));
  const arrive = async (m) => {
    if (!m.claim()) return; // already run, opened from a link, or shown
    if (await m.showKept()) return;
    m.waiting();
    enqueue(() => m.runDefaults());
  };
  if (typeof IntersectionObserver === 'undefined') { // (every current browser has it)
    mounted.forEach(arrive);
    return;
  }
  const observer = new IntersectionObserver((entries) => {
    for (const entry of entries) {
      if (!entry.isIntersecting) continue;
      observer.unobserve(entry.target);
      arrive(byElement.get(entry.target));
    }
  }, { rootMargin: '0px 0px 200px 0px' });
  for (const m of mounted) observer.observe(m.section);
}
