// Runs `measure` over a list of points one after another, reporting progress
// before each point and once at the end: onProgress({ done, total, label, results }).
// An error stops the sweep and propagates with `err.point` set to the failed point.
export async function runSweep(points, measure, onProgress) {
  const results = [];
  const total = points.length;
  for (let i = 0; i < total; i++) {
    onProgress({ done: i, total, label: points[i].label, results });
    try {
      results.push(await measure(points[i]));
    } catch (err) {
      err.point = points[i];
      throw err;
    }
  }
  onProgress({ done: total, total, label: '', results });
  return results;
}
