// Bar figures drawn as SVG into a view.figure() body: stacked horizontal bars
// (a memory breakdown, with labelled device lines) and grouped vertical bars (a
// histogram). Every bar and part carries data attributes, so a test can read
// what was drawn; the SVG carries an aria-label with the same figures.
import { palette } from './charts.js';
import { svg } from './dom.js';

/**
 * Stacked horizontal bars.
 *   spec = { bars: [{ label, parts: [{ name, value }] }], names: [part names in order],
 *            markers: [{ label, value }], format: (value) => string }
 * Parts are coloured by their name's place in `names` (the legend lists them);
 * markers are vertical lines (e.g. a device's memory) with their labels on top.
 */
export function stackedBars(body, spec) {
  const width = 760, left = 70, right = 80, top = 60, barHeight = 34, gap = 18;
  const height = top + spec.bars.length * (barHeight + gap) + 46;
  const totals = spec.bars.map((b) => b.parts.reduce((s, p) => s + p.value, 0));
  const max = Math.max(...totals, ...spec.markers.map((m) => m.value)) * 1.04 || 1;
  const x = (v) => left + ((width - left - right) * v) / max;
  const picture = svg('svg', { viewBox: `0 0 ${width} ${height}`, class: 'bars-svg', role: 'img' });
  const colour = (name) => palette[spec.names.indexOf(name) % palette.length];

  spec.markers.forEach((m, i) => {
    const g = svg('g', { 'data-marker': m.label, 'data-bytes': m.value });
    g.append(svg('line', { x1: x(m.value), x2: x(m.value), y1: top - 8, y2: height - 40,
      stroke: '#555', 'stroke-dasharray': '4 3' }));
    g.append(svg('text', { x: x(m.value), y: top - 14 - (i % 3) * 14, 'text-anchor': 'middle',
      'font-size': 11, fill: '#333' }, m.label));
    picture.append(g);
  });
  spec.bars.forEach((bar, i) => {
    const y = top + i * (barHeight + gap);
    const g = svg('g', { 'data-bar': bar.label, 'data-total': totals[i] });
    g.append(svg('text', { x: left - 8, y: y + barHeight / 2 + 4, 'text-anchor': 'end', 'font-size': 12 },
      bar.label));
    let at = 0;
    for (const p of bar.parts) {
      if (p.value <= 0) continue;
      const rect = svg('rect', { x: x(at), y, width: Math.max(0.5, x(at + p.value) - x(at)), height: barHeight,
        fill: colour(p.name), 'data-part': p.name, 'data-bytes': p.value });
      rect.append(svg('title', {}, `${bar.label}, ${p.name}: ${spec.format(p.value)}`));
      g.append(rect);
      at += p.value;
    }
    g.append(svg('text', { x: x(at) + 6, y: y + barHeight / 2 + 4, 'font-size': 12, 'font-weight': 600 },
      spec.format(totals[i])));
    picture.append(g);
  });
  let lx = left;
  for (const name of spec.names) {
    const ly = height - 22;
    picture.append(svg('rect', { x: lx, y: ly - 9, width: 11, height: 11, fill: colour(name) }));
    const t = svg('text', { x: lx + 15, y: ly, 'font-size': 11 }, name);
    picture.append(t);
    lx += 22 + 7 * name.length;
  }
  picture.setAttribute('aria-label', spec.bars.map((b, i) => `${b.label}: ${spec.format(totals[i])}`).join('; '));
  body.replaceChildren(picture);
}

/**
 * Grouped vertical bars: for each group (e.g. an expert) one bar per series.
 *   spec = { groups: [labels], series: [{ label, color?, values: [per group] }],
 *            xLabel, yLabel, format: (value) => string }
 */
export function groupedBars(body, spec) {
  const width = 760, height = 300, left = 60, right = 16, top = 16, bottom = 70;
  // ticks at 1, 2 or 5 times a power of ten
  const top0 = Math.max(1, ...spec.series.flatMap((s) => s.values));
  const magnitude = 10 ** Math.floor(Math.log10(top0 / 4));
  const tick = [1, 2, 5, 10].map((m) => m * magnitude).find((t) => t * 4 >= top0);
  const max = tick * 4 * 1.04;
  const plotW = width - left - right, plotH = height - top - bottom;
  const groupW = plotW / spec.groups.length;
  const barW = (groupW * 0.8) / spec.series.length;
  const y = (v) => top + plotH - (plotH * v) / max;
  const picture = svg('svg', { viewBox: `0 0 ${width} ${height}`, class: 'bars-svg', role: 'img' });
  for (let k = 0; k <= 4; k++) {
    const v = tick * k;
    picture.append(svg('line', { x1: left, x2: width - right, y1: y(v), y2: y(v), stroke: '#e3e6ea' }));
    picture.append(svg('text', { x: left - 6, y: y(v) + 4, 'text-anchor': 'end', 'font-size': 11 }, spec.format(v)));
  }
  spec.groups.forEach((group, gi) => {
    spec.series.forEach((s, si) => {
      const x0 = left + gi * groupW + groupW * 0.1 + si * barW;
      const v = s.values[gi];
      const rect = svg('rect', { x: x0, y: y(v), width: Math.max(1, barW - 1), height: y(0) - y(v),
        fill: s.color ?? palette[si % palette.length], 'data-series': s.label, 'data-group': group, 'data-value': v });
      rect.append(svg('title', {}, `${s.label}, ${spec.xLabel} ${group}: ${spec.format(v)}`));
      picture.append(rect);
    });
    picture.append(svg('text', { x: left + gi * groupW + groupW / 2, y: y(0) + 15, 'text-anchor': 'middle',
      'font-size': 11 }, group));
  });
  picture.append(svg('text', { x: left + plotW / 2, y: y(0) + 32, 'text-anchor': 'middle', 'font-size': 12 }, spec.xLabel));
  picture.append(svg('text', { x: 14, y: top + plotH / 2, 'text-anchor': 'middle', 'font-size': 12,
    transform: `rotate(-90 14 ${top + plotH / 2})` }, spec.yLabel));
  let lx = left;
  spec.series.forEach((s, si) => {
    const ly = height - 14;
    picture.append(svg('rect', { x: lx, y: ly - 9, width: 11, height: 11, fill: s.color ?? palette[si % palette.length] }));
    picture.append(svg('text', { x: lx + 15, y: ly, 'font-size': 11 }, s.label));
    lx += 30 + 7 * s.label.length;
  });
  picture.setAttribute('aria-label', spec.series.map((s) => `${s.label}: ${s.values.map(spec.format).join(', ')}`).join('; '));
  body.replaceChildren(picture);
}
