// Browser test of the "Paged KV cache" section (web/dist): a small run draws the
// animated pool (play/pause, slider, shared blocks marked, refcounts equal to the
// tables drawn), the waste-vs-block-size chart, the timelines and the table with
// core's figures; a bad budget shows core's message and the section recovers; its
// results, typed arrays included, are kept and drawn again when the page reopens.
// Saves e2e/screenshots/paged-kv-cache.png.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { chartPoints, expectDone, openPage, runSection, shots } from './helpers.mjs';

const small = { requests: 60, blocks: '4, 16, 64' };
let opened, page;

describe('Paged KV cache section', { timeout: 120_000 }, () => {
  before(async () => {
    opened = await openPage();
    page = opened.page;
  });
  after(async () => { await opened?.close(); });

  it('draws the pool, the waste sweep, the timelines and the table', async () => {
    const section = await runSection(page, 'paged-kv-cache', small, 60_000);
    await expectDone(section);
    assert.equal(await chartPoints(section, 'waste'), 3 + 2 + 2, 'waste: 3 block sizes + two flat contiguous lines');
    for (const chart of ['concurrency', 'throughput', 'memory'])
      assert.ok(await chartPoints(section, chart) > 3 * 20, `${chart}: three servers over time`);

    const waste = await section.locator('[data-test=paged-table] [data-waste]').evaluateAll(
      (cells) => cells.map((c) => Number(c.dataset.waste)));
    assert.equal(waste.length, 3, 'static, continuous contiguous, paged');
    assert.ok(waste[2] < 0.04, `paged waste ${waste[2]} (vLLM: under 4%)`);
    assert.ok(waste[1] > 0.5 && waste[0] >= waste[1], `contiguous waste ${waste[0]}, ${waste[1]}`);
    const rate = await section.locator('[data-test=paged-table] [data-tokens-per-step]').evaluateAll(
      (cells) => cells.map((c) => Number(c.dataset.tokensPerStep)));
    assert.ok(rate[2] > rate[0], `paged ${rate[2]} vs static ${rate[0]} tokens per step`);

    // The pool: pause, then step with the slider; every picture's refcounts equal
    // the table entries drawn for them, and some step shows shared blocks.
    const pool = section.locator('[data-figure=pool] .figure-body');
    const steps = Number(await pool.getAttribute('data-steps'));
    assert.ok(steps > 10, `${steps} steps`);
    assert.equal(await pool.getAttribute('data-playing'), 'true', 'plays by itself');
    await pool.locator('button[data-action=play]').click();
    assert.equal(await pool.getAttribute('data-playing'), 'false');
    let shared = 0;
    for (let step = 0; step < steps; step += 3) {
      await pool.locator('input[type=range]').fill(String(step));
      assert.equal(await pool.getAttribute('data-step'), String(step));
      const picture = await pool.evaluate((body) => {
        const blocks = [...body.querySelectorAll('[data-block]')].map((g) => Number(g.dataset.refcount));
        const entries = [...body.querySelectorAll('[data-sequence] .pool-entry')].map((t) => Number(t.textContent));
        return { blocks, entries };
      });
      assert.equal(picture.blocks.length, 32);
      const holders = new Array(32).fill(0);
      for (const b of picture.entries) holders[b]++;
      assert.deepEqual(holders, picture.blocks, `step ${step}: refcounts vs tables`);
      shared += picture.blocks.filter((r) => r > 1).length;
    }
    assert.ok(shared > 0, 'the shared system prompt shows as shared blocks');
    await pool.locator('input[type=range]').fill('12');
  });

  it('names a budget too small for max_seq, then runs again', async () => {
    let section = await runSection(page, 'paged-kv-cache', { ...small, budget: 1000 });
    assert.equal(await section.getAttribute('data-state'), 'error');
    assert.match(await section.locator('[role=alert]').textContent(),
      /budget = 1000: expected room for one sequence of max_seq = 1024 in whole blocks of block_size = 16/);
    section = await runSection(page, 'paged-kv-cache', { ...small, budget: 16384 }, 60_000);
    await expectDone(section);
    await section.locator('[data-figure=pool] button[data-action=play]').click();
    await section.locator('[data-figure=pool] input[type=range]').fill('14');
    mkdirSync(shots, { recursive: true });
    await section.screenshot({ path: path.join(shots, 'paged-kv-cache.png') });
    assert.deepEqual(opened.errors, [], `console errors:\n${opened.errors.join('\n')}`);
  });

  it('keeps its results, pool pictures (Int32Arrays) included: the page opened again draws them', async () => {
    let section = page.locator('section#paged-kv-cache');
    const before = Object.fromEntries(await Promise.all(['waste', 'concurrency', 'memory'].map(
      async (chart) => [chart, await chartPoints(section, chart)])));
    const kept = await page.evaluate(() => localStorage.getItem('memlab:results:paged-kv-cache')?.length ?? 0);
    assert.ok(kept > 0, 'the last run was not kept');
    await page.goto(opened.url); // arrival runs on: a section with kept results draws them
    await page.waitForSelector('#core-status[data-state=ready]', { timeout: 30_000 });
    section = page.locator('section#paged-kv-cache');
    await section.scrollIntoViewIfNeeded();
    await page.waitForFunction(() => document.getElementById('paged-kv-cache').dataset.kept === 'true', null,
      { timeout: 20_000 }).catch(() => { throw new Error('the kept results were not shown'); });
    for (const [chart, points] of Object.entries(before))
      assert.equal(await chartPoints(section, chart), points, `${chart}: the kept results drew other points`);
    const pool = section.locator('[data-figure=pool] .figure-body');
    assert.equal(await pool.locator('[data-block]').count(), 32, 'the pool picture from the kept snapshots');
    assert.ok(Number(await pool.getAttribute('data-steps')) > 10);
    assert.deepEqual(opened.errors, [], `console errors:\n${opened.errors.join('\n')}`);
  });
});
