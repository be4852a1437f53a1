// Browser test of the "Flash attention step by step" section (web/dist): the traced
// run of seq 12, head_dim 4, tiles 4 × 4 steps through the 9 (Q tile, K/V tile)
// pairs in order with play/pause and the slider; α is 0 on each Q tile's first
// tile and in (0, 1] after; at the last step every output row is drawn and equals
// naive attention's; a causal run visits 6 tiles; a bad seq shows core's message and
// the section recovers. Saves e2e/screenshots/flash-steps-{middle,last}.png.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { expectDone, openPage, runSection, shots } from './helpers.mjs';

const example = { seq: 12, headDim: 4, blockQ: 4, blockKv: 4, causal: false, seed: 1 };
let opened, page;

const numbers = (box, attr) => box.locator(`[${attr}]`).evaluateAll(
  (cells, a) => cells.map((c) => ({ value: Number(c.getAttribute(a)), text: c.textContent })), attr);

describe('Flash attention step by step', { timeout: 120_000 }, () => {
  before(async () => {
    opened = await openPage();
    page = opened.page;
  });
  after(async () => { await opened?.close(); });

  it('steps through every tile pair and ends on the naive output', async () => {
    const section = await runSection(page, 'flash-steps', example);
    await expectDone(section);
    const body = section.locator('[data-figure=steps] .figure-body');
    assert.equal(await body.getAttribute('data-steps'), '9', '3 Q tiles × 3 K/V tiles');
    assert.equal(await body.getAttribute('data-playing'), 'true', 'plays by itself');
    await body.locator('button[data-action=play]').click();
    assert.equal(await body.getAttribute('data-playing'), 'false');

    const slider = body.locator('input[type=range]');
    for (let step = 0; step < 9; step++) {
      await slider.fill(String(step));
      assert.equal(await body.getAttribute('data-step'), String(step));
      const tile = await body.locator('[data-current-tile]').getAttribute('data-current-tile');
      assert.equal(tile, `${Math.floor(step / 3)},${step % 3}`, `step ${step}: Q tiles outer, K/V tiles inner`);
      const alphas = (await numbers(body, 'data-rescale')).map((a) => a.value);
      assert.equal(alphas.length, 4, 'one α per row of the Q tile');
      if (step % 3 === 0) assert.deepEqual(alphas, [0, 0, 0, 0], `step ${step}: m_old = −∞ on a Q tile's first K/V tile`);
      else assert.ok(alphas.every((a) => a > 0 && a <= 1), `step ${step}: α = exp(m_old − m_new) in (0, 1]: ${alphas}`);
      const finished = (await numbers(body.locator('[data-output=flash]'), 'data-flash')).length;
      assert.equal(finished, 4 * 4 * Math.floor((step + 1) / 3), `step ${step}: rows finished × head_dim`);
      if (step === 4) {
        mkdirSync(shots, { recursive: true });
        await section.screenshot({ path: path.join(shots, 'flash-steps-middle.png') });
      }
    }

    // The last step: all 12 rows, each value the naive softmax's, to 1e-6 and as printed.
    const flash = await numbers(body.locator('[data-output=flash]'), 'data-flash');
    const naive = await numbers(body.locator('[data-output=naive]'), 'data-naive');
    assert.equal(flash.length, 12 * 4);
    assert.equal(naive.length, 12 * 4);
    flash.forEach((f, i) => {
      assert.ok(Math.abs(f.value - naive[i].value) <= 1e-6, `output ${i}: flash ${f.value}, naive ${naive[i].value}`);
      assert.equal(f.text, naive[i].text);
    });
    assert.ok(new Set(flash.map((f) => f.text)).size > 40, 'distinct values, not one repeated');
    assert.match(await body.locator('svg').getAttribute('aria-label'), /step 9 of 9: .*all rows equal naive attention/);
    await section.screenshot({ path: path.join(shots, 'flash-steps-last.png') });
  });

  it('skips the tiles above the diagonal with a causal mask, names a bad seq, then runs again', async () => {
    let section = await runSection(page, 'flash-steps', { ...example, causal: true });
    await expectDone(section);
    const body = section.locator('[data-figure=steps] .figure-body');
    assert.equal(await body.getAttribute('data-steps'), '6', 'Q tile i visits K/V tiles 0..i: 1 + 2 + 3');

    section = await runSection(page, 'flash-steps', { ...example, seq: 65 });
    assert.equal(await section.getAttribute('data-state'), 'error');
    assert.match(await section.locator('[role=alert]').textContent(),
      /seq = 65: expected at most 64 \(every state of the step-through is kept\)/);
    section = await runSection(page, 'flash-steps', { ...example, seq: 13, blockQ: 5, blockKv: 3 });
    await expectDone(section);
    assert.equal(await body.getAttribute('data-steps'), String(3 * 5), '3 Q tiles (5, 5, 3 rows) × 5 K/V tiles');
    assert.deepEqual(opened.errors, [], `console errors:\n${opened.errors.join('\n')}`);
  });
});
