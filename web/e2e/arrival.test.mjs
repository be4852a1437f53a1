// Browser test of results on arrival and share links (web/dist; `npm run build` first).
//
// A fresh profile opens the page: the sections in view run their default sweeps
// by themselves, one at a time (a MutationObserver in the page counts sections in
// state running), while the page keeps answering (a 50 ms timer's longest gap);
// a section scrolled to later runs in its turn. A reload draws the kept results
// (the same points) without running anything. Copy link on a section gives a URL
// whose fragment holds its inputs; opening it elsewhere fills them and runs them;
// a link with a parameter the section lacks says so. Every request stays on the
// page's own origin. Screenshot: e2e/screenshots/arrival.png.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { openPage, expectDone, shots } from './helpers.mjs';

const ARRIVAL_TIMEOUT = 120_000;
let opened, page;
const foreign = [];

const states = () => page.locator('section.experiment').evaluateAll((all) =>
  Object.fromEntries(all.map((s) => [s.id, s.dataset.state])));

/** Each chart's number of points in section `id`, by chart key. */
const chartPoints = (p, id) => p.locator(`section#${id} [data-chart]`).evaluateAll((charts) =>
  Object.fromEntries(charts.map((c) => [c.dataset.chart, Number(c.dataset.points)])));

const waitDone = (p, id, timeout = ARRIVAL_TIMEOUT) => p.waitForFunction(
  (s) => ['done', 'error'].includes(document.getElementById(s).dataset.state), id, { timeout });

describe('results on arrival, kept results, share links', { timeout: 400_000 }, () => {
  before(async () => {
    opened = await openPage({ autorun: true });
    page = opened.page;
    const origin = new URL(opened.url).origin;
    opened.browser.context.on('request', (r) => {
      if (!r.url().startsWith(origin) && !r.url().startsWith('data:')) foreign.push(r.url());
    });
  });
  after(async () => { await opened?.close(); });

  it('the first section runs its defaults by itself, one section at a time, the page responsive', async () => {
    await page.evaluate(() => {
      window.arrivalProbe = { maxRunning: 0, maxGap: 0 };
      const count = () => {
        const n = document.querySelectorAll('section.experiment[data-state=running]').length;
        window.arrivalProbe.maxRunning = Math.max(window.arrivalProbe.maxRunning, n);
      };
      new MutationObserver(count).observe(document.querySelector('main'), { subtree: true, attributes: true, attributeFilter: ['data-state'] });
      count();
      let last = performance.now();
      setInterval(() => {
        const now = performance.now();
        window.arrivalProbe.maxGap = Math.max(window.arrivalProbe.maxGap, now - last);
        last = now;
      }, 50);
    });
    const first = await page.locator('section.experiment').first().getAttribute('id');
    await waitDone(page, first);
    await expectDone(page.locator(`section#${first}`));
    const points = await chartPoints(page, first);
    assert.ok(Object.keys(points).length > 0, `#${first}: no chart after its arrival run`);
    for (const [chart, n] of Object.entries(points)) assert.ok(n > 0, `#${first}: chart ${chart} is empty`);
    assert.match(await page.locator(`section#${first} .progress-text`).textContent(), /done in/);

    const last = await page.locator('section.experiment').last().getAttribute('id');
    assert.equal((await states())[last], 'idle', `#${last}, far below, should not run before it is seen`);
    // scrolled to, it runs in its turn
    await page.locator(`section#${last}`).scrollIntoViewIfNeeded();
    await waitDone(page, last);
    await expectDone(page.locator(`section#${last}`));
    // wait for every queued section, then look at the whole
    await page.waitForFunction(() => !document.querySelector('section.experiment[data-state=running]')
      && ![...document.querySelectorAll('.progress[data-state=running]')].length, null, { timeout: ARRIVAL_TIMEOUT });
    const probe = await page.evaluate(() => window.arrivalProbe);
    assert.equal(probe.maxRunning, 1, 'arrival runs must go one section at a time');
    assert.ok(probe.maxGap < 2000, `the page stopped answering for ${probe.maxGap.toFixed(0)} ms`);
    console.log(`arrival: longest gap of a 50 ms timer ${probe.maxGap.toFixed(0)} ms; states ${JSON.stringify(await states())}`);
  });

  it('a reload draws the kept results, the same points, without running', async () => {
    const done = Object.entries(await states()).filter(([, s]) => s === 'done').map(([id]) => id);
    // what localStorage holds (a section whose results are too large is not kept)
    const sizes = await page.evaluate((ids) => Object.fromEntries(ids.map((id) =>
      [id, localStorage.getItem(`memlab:results:${id}`)?.length ?? 0])), done);
    console.log(`kept results, characters: ${JSON.stringify(sizes)}`);
    const ran = done.filter((id) => sizes[id] > 0);
    assert.ok(ran.length >= 2 && ran.includes(done[0]), `too few sections kept: ${JSON.stringify(sizes)}`);
    const before = Object.fromEntries(await Promise.all(ran.map(async (id) => [id, await chartPoints(page, id)])));
    await page.reload();
    await page.evaluate(() => {
      window.ranAgain = [];
      new MutationObserver(() => {
        for (const s of document.querySelectorAll('section.experiment[data-state=running]'))
          if (!window.ranAgain.includes(s.id)) window.ranAgain.push(s.id);
      }).observe(document.querySelector('main'), { subtree: true, attributes: true, attributeFilter: ['data-state'] });
    });
    for (const id of ran) {
      await page.locator(`section#${id}`).scrollIntoViewIfNeeded();
      await page.waitForFunction((s) => document.getElementById(s).dataset.kept === 'true', id, { timeout: 20_000 })
        .catch(() => { throw new Error(`#${id}: its kept results were not shown`); });
      assert.deepEqual(await chartPoints(page, id), before[id], `#${id}: kept results drew other points`);
      assert.match(await page.locator(`section#${id} .progress-text`).textContent(), /kept in this browser/);
    }
    // (sections scrolled past on the way, with nothing kept, run: not these)
    const again = (await page.evaluate(() => window.ranAgain)).filter((id) => ran.includes(id));
    assert.deepEqual(again, [], 'sections with kept results ran again');
  });

  it('Copy link gives the section\'s inputs in the fragment; opening it fills them and runs', async () => {
    const gqa = page.locator('section#gqa');
    await gqa.scrollIntoViewIfNeeded();
    await waitDone(page, 'gqa');
    await gqa.locator('[name=seqMin]').fill('64');
    await gqa.locator('[name=seqMax]').fill('128');
    await gqa.locator('[name=heads]').fill('2');
    await gqa.locator('[name=repeats]').fill('1');
    await gqa.locator('[name=causal]').setChecked(true);
    await gqa.locator('[data-action=copy-link]').click();
    const link = await gqa.locator('.share .share-link').inputValue();
    const url = new URL(link);
    assert.equal(url.hash.split('?')[0], '#gqa');
    const params = Object.fromEntries(new URLSearchParams(url.hash.split('?')[1]));
    assert.equal(params.seqMin, '64');
    assert.equal(params.heads, '2');
    assert.equal(params.causal, '1');

    const other = await opened.browser.context.newPage();
    try {
      await other.goto(link);
      const section = other.locator('section#gqa');
      await waitDone(other, 'gqa', 60_000);
      await expectDone(section);
      assert.equal(await section.locator('[name=heads]').inputValue(), '2');
      assert.equal(await section.locator('[name=causal]').isChecked(), true);
      const rows = await section.locator('[data-test=gqa-table] tbody tr td:first-child').allTextContents();
      assert.deepEqual(rows.map(Number), [64, 128], 'the link\'s seq sweep was not the one run');
      assert.equal(await section.getAttribute('data-kept'), null, 'a link runs; it does not show kept results');

      // a parameter the section does not have
      await other.goto(`${opened.url}#gqa?seqMin=64&nope=3`);
      await other.reload();
      await waitDone(other, 'gqa', 60_000);
      assert.equal(await section.getAttribute('data-state'), 'error');
      assert.match(await section.locator('[role=alert]').textContent(), /nope: not a parameter of this section/);
    } finally {
      await other.close();
    }
  });

  it('sends nothing anywhere, logs no error; screenshot', async () => {
    mkdirSync(shots, { recursive: true });
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: path.join(shots, 'arrival.png') });
    assert.deepEqual(foreign, [], `requests off the page's origin:\n${foreign.join('\n')}`);
    assert.deepEqual(opened.errors, [], `console errors:\n${opened.errors.join('\n')}`);
  });
});
