// Browser test of the Quantization section (web/dist): a small run draws every
// chart and table with the figures core promises (exact bits per weight, kernels
// equal to their references, NF4's codes better used than int4's), a bad group
// shows the core's message and the section recovers. Saves a screenshot of the
// section to e2e/screenshots/quantization.png.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { openPage, runSection, expectDone, chartPoints, shots } from './helpers.mjs';

// The matvec big enough to take well over Chromium's 0.1 ms timer resolution.
const small = { rows: 128, cols: 256, group: 64, mvRows: 2048, mvCols: 1024, repeats: 1, matvec: true };
const SCHEMES = 14;   // fp16, 4 int formats x 2 granularities, q8_0, q4_0, q4_1, nf4, nf4_dq
const FORMATS = 11;   // timed: fp32 ... nf4_dq

let opened, page;

describe('quantization section', { timeout: 120_000 }, () => {
  before(async () => {
    opened = await openPage();
    page = opened.page;
  });

  after(async () => {
    await opened?.close();
  });

  it('a small run draws the trade-off, both grids and the matvec chart', async () => {
    const section = await runSection(page, 'quantization', small, 60_000);
    await expectDone(section);
    assert.equal(await chartPoints(section, 'tradeoff'), 2 * SCHEMES, 'trade-off chart: one point per scheme and distribution');
    // histogram bins + 15 int4 levels + 16 NF4 levels
    assert.equal(await chartPoints(section, 'grid-gaussian'), 81 + 15 + 16);
    assert.equal(await chartPoints(section, 'grid-heavy'), 81 + 15 + 16);
    assert.equal(await chartPoints(section, 'matvec'), FORMATS);

    const bits = await section.locator('[data-test=error-table] [data-bits]').evaluateAll(
      (cells) => cells.map((c) => Number(c.dataset.bits)));
    assert.equal(bits.length, SCHEMES);
    // fp16, then int8_sym per channel (8 + 32/256) and per group of 64 (8 + 32/64), ...
    assert.deepEqual(bits.slice(0, 3), [16, 8.125, 8.5]);
    assert.deepEqual(bits.slice(-5), [8.5, 4.5, 5, 4.5, (8 * (128 * 256 / 2 + 512 + 4 * 2 + 4)) / (128 * 256)]);

    const diffs = await section.locator('[data-test=matvec-table] [data-kernel-diff]').evaluateAll(
      (cells) => cells.map((c) => Number(c.dataset.kernelDiff)));
    assert.equal(diffs.length, FORMATS);
    for (const d of diffs) assert.ok(Number.isFinite(d) && d <= 1e-5, `kernel differs from its reference by ${d}`);

    const entropy = await section.locator('[data-test=grid-table] tbody tr').evaluateAll((rows) => rows.map((r) => ({
      int4: Number(r.querySelector('[data-int4-entropy]').dataset.int4Entropy),
      nf4: Number(r.querySelector('[data-nf4-entropy]').dataset.nf4Entropy),
    })));
    assert.equal(entropy.length, 2);
    assert.ok(entropy[0].nf4 > entropy[0].int4 + 0.3, `Gaussian row: NF4 ${entropy[0].nf4} vs int4 ${entropy[0].int4} bits`);
  });

  it('a group that does not divide cols shows the core\'s message, and the section recovers', async () => {
    const section = await runSection(page, 'quantization', { ...small, group: 48 });
    assert.equal(await section.getAttribute('data-state'), 'error');
    const alert = section.locator('[role=alert]');
    assert.ok(await alert.isVisible());
    assert.match(await alert.textContent(), /group = 48: expected a divisor of cols = 256/);

    const again = await runSection(page, 'quantization', { ...small, matvec: false }, 60_000);
    await expectDone(again);
    assert.equal(await alert.isVisible(), false);
    assert.equal(await chartPoints(again, 'tradeoff'), 2 * SCHEMES);
    assert.equal(await again.locator('[data-chart=matvec]').count(), 0, 'no matvec chart without timing');
  });

  it('saves a screenshot of the section after a full run, with no console errors', async () => {
    const section = await runSection(page, 'quantization', small, 60_000);
    await expectDone(section);
    mkdirSync(shots, { recursive: true });
    await section.screenshot({ path: path.join(shots, 'quantization.png') });
    assert.deepEqual(opened.errors, [], `console errors:\n${opened.errors.join('\n')}`);
  });
});
