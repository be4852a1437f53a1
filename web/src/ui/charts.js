// Line charts over Chart.js, for figures that span orders of magnitude.
//
// A spec:
//   { title, x: axis, y: axis,
//     series: [{ label, color?, dash?, points: [[x, y, name?], ...], style? }] }
//   axis = { label, log2?: boolean, log10?: boolean, format?: (value) => string }
// dash: a Canvas line dash such as [6, 4], to tell apart lines that may overlap.
// spec.mode picks the tooltip's points: 'index' (default: the same point of every
// series) or 'nearest'. A point's optional name heads its tooltip (e.g. the scheme of a scatter point);
// `style` holds extra Chart.js dataset options, e.g. { showLine: false } for a
// scatter, or { pointStyle: 'line', rotation: 90 } for vertical tick marks.
// A log2 axis plots log2(value) on a linear scale, so ticks fall on powers of two
// (64, 128, 256 ... or 1 KiB, 4 KiB, 16 KiB ...) and a straight line of slope k on
// a log-log chart means value ~ seq^k; a log10 axis does the same with powers of
// ten (errors: 1e-4, 1e-3, ...). Points that cannot be plotted (NaN, or <= 0
// on a log axis) are left out; the figure's data-points attribute counts the rest.
//
// Chart.js is loaded lazily, so the page shell appears before it arrives.

let chartLib = null;
export function preloadCharts() {
  chartLib ??= import('./chartjs.js');
  return chartLib;
}

export const palette = ['#d9480f', '#1c7ed6', '#2b8a3e', '#7048e8', '#c2255c', '#0b7285'];

const charts = new WeakMap(); // canvas -> Chart

// The base of a logarithmic axis (2 or 10), or null for a linear one.
const logBase = (axis) => (axis.log10 ? 10 : axis.log2 ? 2 : null);

function plotted(value, axis) {
  if (!Number.isFinite(value)) return null;
  const base = logBase(axis);
  if (!base) return value;
  return value > 0 ? (base === 10 ? Math.log10(value) : Math.log2(value)) : null;
}

function scaleFor(axis, values) {
  const format = axis.format ?? ((v) => String(Number(v.toPrecision(3))));
  const base = logBase(axis);
  const scale = {
    type: 'linear',
    title: { display: true, text: axis.label },
    ticks: { callback: base ? (v) => format(base ** v) : (v) => format(v) },
  };
  if (base && values.length > 0) {
    let lo = Math.floor(Math.min(...values));
    let hi = Math.ceil(Math.max(...values));
    if (hi - lo < 2) { lo -= 1; hi += 1; }
    const step = Math.max(1, Math.ceil((hi - lo) / 8));
    lo = Math.floor(lo / step) * step; // ticks on whole powers of the base
    hi = Math.ceil(hi / step) * step;
    Object.assign(scale, { min: lo, max: hi });
    scale.ticks.stepSize = step;
  }
  return scale;
}

/** Draws or updates the chart in `figure` (which holds a canvas). */
export async function renderChart(figure, spec) {
  const { Chart } = await preloadCharts();
  const fx = spec.x.format ?? String;
  const fy = spec.y.format ?? String;
  const datasets = spec.series.map((s, i) => {
    const color = s.color ?? palette[i % palette.length];
    const data = [];
    for (const [rx, ry, name] of s.points) {
      const x = plotted(rx, spec.x);
      const y = plotted(ry, spec.y);
      if (x !== null && y !== null) data.push({ x, y, rx, ry, name });
    }
    return {
      label: s.label, data, borderColor: color, backgroundColor: color, borderDash: s.dash ?? [],
      borderWidth: 2, pointRadius: 3, pointHoverRadius: 5, tension: 0, clip: false,
      ...s.style,
    };
  });
  const all = datasets.flatMap((d) => d.data);
  const options = {
    responsive: true,
    maintainAspectRatio: false,
    animation: false,
    interaction: { mode: spec.mode ?? 'index', intersect: false },
    scales: { x: scaleFor(spec.x, all.map((p) => p.x)), y: scaleFor(spec.y, all.map((p) => p.y)) },
    plugins: {
      legend: { position: 'bottom', labels: { boxWidth: 12, boxHeight: 12 } },
      tooltip: {
        callbacks: {
          title: (items) => {
            if (!items.length) return '';
            const { name, rx } = items[0].raw;
            return name ? `${name} (${spec.x.label} ${fx(rx)})` : `${spec.x.label} ${fx(rx)}`;
          },
          label: (item) => `${item.dataset.label}: ${fy(item.raw.ry)}`,
        },
      },
    },
  };

  const canvas = figure.querySelector('canvas');
  canvas.setAttribute('role', 'img');
  canvas.setAttribute('aria-label', spec.title);
  let chart = charts.get(canvas);
  if (chart) {
    chart.data.datasets = datasets;
    chart.options = options;
    chart.update();
  } else {
    chart = new Chart(canvas, { type: 'line', data: { datasets }, options });
    charts.set(canvas, chart);
  }
  figure.dataset.points = String(all.length);
}

/** Frees the chart drawn in `figure`, if any. */
export function destroyChart(figure) {
  const canvas = figure.querySelector('canvas');
  charts.get(canvas)?.destroy();
  charts.delete(canvas);
}
