// Browser test of the built page (web/dist): run `npm run build` first.
// Drives Debian's Chromium through playwright-core; serves dist/ from a sub-path of a
// plain static server; checks both experiments, the error path and recovery, and
// saves a full-page screenshot to e2e/screenshots/page.png.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { collectErrors, launchChromium } from './chromium.mjs';
import { serveStatic } from './static-server.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const dist = path.join(here, '..', 'dist');
const shots = path.join(here, 'screenshots');
const TOLERANCE = 1e-5;
const RUN_TIMEOUT = 30_000;

let server, browser, page;
let consoleErrors = [];

/** Sets the named inputs of a section, then runs it and waits until it is done or failed. */
async function run(sectionId, values) {
  const section = page.locator(`section#${sectionId}`);
  for (const [name, value] of Object.entries(values)) {
    const input = section.locator(`[name=${name}]`);
    if (typeof value === 'boolean') await input.setChecked(value);
    else await input.fill(String(value));
  }
  const button = section.locator('button[data-action=run]');
  await button.click();
  await page.waitForFunction(
    (id) => ['done', 'error'].includes(document.getElementById(id).dataset.state),
    sectionId,
    { timeout: RUN_TIMEOUT },
  ).catch(() => { throw new Error(`#${sectionId}: the run did not finish within ${RUN_TIMEOUT / 1000} s`); });
  assert.equal(await button.isEnabled(), true, `#${sectionId}: Run stays disabled after the run`);
  return section;
}

async function expectDone(section) {
  const state = await section.getAttribute('data-state');
  if (state !== 'done') {
    const alert = await section.locator('[role=alert]').textContent();
    assert.fail(`#${await section.getAttribute('id')}: expected a finished run, got state ${state}: ${alert}`);
  }
}

async function points(section, chart) {
  const figure = section.locator(`[data-chart=${chart}]`);
  assert.equal(await figure.count(), 1, `chart ${chart} missing`);
  return Number(await figure.getAttribute('data-points'));
}

describe('memlab page', { timeout: 90_000 }, () => {
  before(async () => {
    assert.ok(existsSync(path.join(dist, 'index.html')), `${dist}/index.html missing: run \`npm run build\` first`);
    server = await serveStatic(dist, '/some/sub/path/');
    browser = await launchChromium();
    page = browser.page;
    consoleErrors = collectErrors(page);
  });

  after(async () => {
    await browser?.close();
    await server?.close();
  });

  it('loads from a sub-path and the core becomes ready', async () => {
    await page.goto(server.url);
    assert.equal(await page.locator('h1').textContent(), 'memlab');
    await page.waitForSelector('#core-status[data-state=ready]', { timeout: 15_000 }).catch(async () => {
      const s = page.locator('#core-status');
      throw new Error(`the core did not load: ${await s.textContent()} ${(await s.getAttribute('title')) ?? ''}`);
    });
    assert.equal(await page.locator('section.experiment').count(), 2, 'expected two experiment sections');
  });

  it('flash vs naive: a small sweep draws both charts and every diff is within 1e-5', async () => {
    const section = await run('flash-vs-naive', { seqMin: 64, seqMax: 256, repeats: 1 });
    await expectDone(section);
    // 3 seqs (64, 128, 256) x 2 series (naive, flash)
    assert.equal(await points(section, 'time'), 6, 'time chart: expected 6 points');
    assert.equal(await points(section, 'heap'), 6, 'heap chart: expected 6 points');
    const diffs = (await section.locator('[data-test=diff-table] [data-diff]').evaluateAll(
      (cells) => cells.map((c) => Number(c.dataset.diff))));
    assert.equal(diffs.length, 3, 'diff table: expected one row per seq');
    for (const d of diffs) assert.ok(Number.isFinite(d) && d <= TOLERANCE, `max abs diff ${d} > ${TOLERANCE}`);
  });

  it('flash vs naive: kv_heads 3 with heads 4 shows the core error, and the page recovers', async () => {
    const section = await run('flash-vs-naive', { kvHeads: 3, heads: 4 });
    assert.equal(await section.getAttribute('data-state'), 'error', 'kv_heads 3 should fail');
    const alert = section.locator('[role=alert]');
    assert.ok(await alert.isVisible(), 'the error box is not visible');
    assert.match(await alert.textContent(), /kv_heads = 3: expected a divisor of heads = 4/,
      'the error box should show the core\'s message');

    const again = await run('flash-vs-naive', { kvHeads: 2 });
    await expectDone(again);
    assert.equal(await alert.isVisible(), false, 'the error box should be gone after a good run');
    assert.equal(await points(again, 'time'), 6);
    assert.equal(await points(again, 'heap'), 6);
  });

  it('MHA vs GQA vs MQA: a small sweep draws both charts', async () => {
    const section = await run('gqa', { seqMin: 64, seqMax: 256, heads: 4, repeats: 1 });
    await expectDone(section);
    // 3 seqs x 3 variants (kv_heads 4, 2, 1)
    assert.equal(await points(section, 'kv'), 9, 'KV chart: expected 9 points');
    assert.equal(await points(section, 'time'), 9, 'time chart: expected 9 points');
    const kv = await section.locator('[data-test=gqa-table] tbody tr').count();
    assert.equal(kv, 3, 'GQA table: expected one row per seq');
  });

  it('saves a screenshot, with no console errors', async () => {
    mkdirSync(shots, { recursive: true });
    await page.screenshot({ path: path.join(shots, 'page.png'), fullPage: true });
    assert.deepEqual(consoleErrors, [], `console errors:\n${consoleErrors.join('\n')}`);
  });
});
