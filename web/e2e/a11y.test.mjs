// Accessibility and small screens on the built page (web/dist; `npm run build` first).
//
// axe-core (npm) checks the page after the arrival runs have filled the first
// sections, the exercises included: no serious or critical violation. At 390 px
// wide (a phone) nothing may be wider than the screen; screenshots of the page on
// arrival (desktop) and at 390 px go to e2e/screenshots/ (arrival-section.png,
// mobile-*.png) to be looked at.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { openPage, shots } from './helpers.mjs';

const axePath = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
let opened, page;

const waitDone = (id) => page.waitForFunction(
  (s) => document.getElementById(s).dataset.state === 'done', id, { timeout: 120_000 });

/** axe's serious and critical violations, as readable lines. */
async function violations() {
  await page.addScriptTag({ path: axePath });
  const found = await page.evaluate(async () => {
    const { violations } = await window.axe.run(document, { resultTypes: ['violations'] });
    return violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
      nodes: v.nodes.slice(0, 3).map((n) => `${n.target.join(' ')}${n.any[0]?.data?.fgColor
        ? ` ${n.any[0].data.fgColor} on ${n.any[0].data.bgColor}, ${n.any[0].data.contrastRatio}:1` : ''}`) }));
  });
  return found.filter((v) => ['serious', 'critical'].includes(v.impact))
    .map((v) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.join(', ')})`);
}

/** Elements wider than the viewport (their selectors and widths). */
const overflowing = () => page.evaluate(() => {
  const width = document.documentElement.clientWidth;
  return [...document.querySelectorAll('body *')]
    .filter((e) => e.getBoundingClientRect().right > width + 1 && e.getClientRects().length > 0
      && !e.closest('.table, .cm-editor, pre, .figure-body')) // these scroll inside their own box
    .slice(0, 10)
    .map((e) => `${e.tagName.toLowerCase()}${e.id ? `#${e.id}` : ''}.${[...e.classList].join('.')} right ${Math.round(e.getBoundingClientRect().right)}`);
});

describe('accessibility and small screens', { timeout: 300_000 }, () => {
  before(async () => {
    opened = await openPage({ autorun: true });
    page = opened.page;
    mkdirSync(shots, { recursive: true });
  });
  after(async () => { await opened?.close(); });

  it('on arrival the first sections fill their charts; screenshot', async () => {
    const first = await page.locator('section.experiment').first().getAttribute('id');
    await waitDone(first);
    await page.locator(`section#${first}`).screenshot({ path: path.join(shots, 'arrival-section.png') });
  });

  it('axe-core: no serious or critical violation', async () => {
    await page.waitForSelector('#exercises .cm-content', { timeout: 30_000 });
    const found = await violations();
    assert.deepEqual(found, [], found.join('\n'));
  });

  it('at 390 px wide nothing is wider than the screen; screenshots', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: path.join(shots, 'mobile-top.png') });
    const first = await page.locator('section.experiment').first().getAttribute('id');
    await page.locator(`section#${first} .charts`).scrollIntoViewIfNeeded();
    await page.screenshot({ path: path.join(shots, 'mobile-chart.png') });
    await page.locator('#exercises').scrollIntoViewIfNeeded();
    await page.screenshot({ path: path.join(shots, 'mobile-exercises.png') });
    const wide = await overflowing();
    assert.deepEqual(wide, [], `wider than 390 px:\n${wide.join('\n')}`);
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth) <= 390, 'the page scrolls sideways');
    assert.deepEqual(opened.errors, []);
  });
});
