// Browser test of the "Flash backward" and "Attention I/O bytes" sections on the built page.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { chartPoints, expectDone, openPage, runSection, shots } from './helpers.mjs';

let opened;

describe('Flash backward and attention I/O bytes sections', { timeout: 240_000 }, () => {
  before(async () => { opened = await openPage(); });
  after(async () => { await opened?.close(); });

  it('times forward + backward naive vs flash: exact peaks, the same gradients', async () => {
    const section = await runSection(opened.page, 'flash-backward',
      { seqMin: 128, seqMax: 512, headDim: 32, heads: 2, kvHeads: 1, block: 64, repeats: 1, causal: true }, 120_000);
    await expectDone(section);
    assert.equal(await chartPoints(section, 'time'), 6, 'time: naive and flash at 3 seqs');
    assert.equal(await chartPoints(section, 'heap'), 6);
    const rows = await section.locator('[data-test=backward-table] [data-diff]').evaluateAll((cells) =>
      cells.map((c) => ({ diff: Number(c.dataset.diff), naive: Number(c.dataset.naivePeak), flash: Number(c.dataset.flashPeak) })));
    assert.equal(rows.length, 3);
    const h = 2, g = 1, d = 32;
    [128, 256, 512].forEach((n, i) => {
      const r = rows[i];
      assert.ok(r.diff <= 1e-5, `seq ${n}: relative gradient difference ${r.diff}`);
      // flash_backward.hpp's formulas; the panel and the tiles are min(64, seq) rows
      assert.equal(r.naive, (2 * h * n * n + 2 * h * n * d + 2 * g * n * d + 64 * n) * 4, `naive peak at seq ${n}`);
      assert.equal(r.flash, (2 * h * n * d + 2 * g * n * d + 2 * h * n + 2 * d * 64 + 3 * 64 * 64) * 4, `flash peak at seq ${n}`);
    });
    mkdirSync(shots, { recursive: true });
    await section.screenshot({ path: path.join(shots, 'flash-backward.png') });
  });

  it('counts I/O bytes equal to the closed forms; the slider redraws bytes vs seq at another M', async () => {
    const section = await runSection(opened.page, 'io-bytes',
      { seqMin: 128, seqMax: 512, fastKibMin: 8, fastKibMax: 128, headDim: 32, heads: 1, kvHeads: 1, causal: false }, 120_000);
    await expectDone(section);
    const cells = await section.locator('[data-test=io-table] [data-exact]').evaluateAll((all) =>
      all.map((c) => ({ exact: c.dataset.exact === 'true', flash: Number(c.dataset.flash), naive: Number(c.dataset.naive), lsh: Number(c.dataset.lsh) })));
    assert.equal(cells.length, 3 * 5, '3 seqs × 5 fast memories');
    assert.ok(cells.every((c) => c.exact), 'every count equals its closed form');
    // naive forward = 16 (Nd + N²) bytes for one head (io_bytes.hpp), at every M
    [128, 256, 512].forEach((n, i) => {
      for (let m = 0; m < 5; m++) assert.equal(cells[i * 5 + m].naive, 16 * (n * 32 + n * n));
    });
    // flash forward at seq 512: bytes fall as M grows (Θ(N²d²/M))
    const flash512 = cells.slice(10).map((c) => c.flash);
    for (let m = 1; m < 5; m++) assert.ok(flash512[m] < flash512[m - 1], `flash bytes at M #${m}: ${flash512}`);
    // LSH (chunks of 64): the same bytes at every M, about twice as many at twice the seq
    [0, 1, 2].forEach((i) => {
      for (let m = 1; m < 5; m++) assert.equal(cells[i * 5 + m].lsh, cells[i * 5].lsh);
    });
    const lshRatio = cells[10].lsh / cells[5].lsh;
    assert.ok(lshRatio > 1.95 && lshRatio < 2.1, `LSH bytes seq 512 / seq 256 = ${lshRatio}`);
    assert.equal(await chartPoints(section, 'by-m'), 6 * 5, '5 methods and the N²d²/M line at 5 Ms');
    assert.equal(await chartPoints(section, 'by-seq'), 5 * 3);

    const slider = section.locator('input[name=fastMemory]');
    const figure = section.locator('[data-figure=fast-memory] .figure-body');
    assert.equal(await figure.getAttribute('data-m'), String(128 * 1024), 'the default M: 128 KiB');
    const caption = section.locator('[data-chart=by-seq] figcaption');
    assert.match(await caption.textContent(), /M = 128 KiB/);
    await slider.fill('0');
    await opened.page.waitForFunction(() =>
      document.querySelector('#io-bytes [data-chart=by-seq] figcaption').textContent.includes('8 KiB'));
    assert.equal(await figure.getAttribute('data-m'), String(8 * 1024));
    assert.match(await section.locator('.slider-value').textContent(), /forward tiles 16 × 16/);
    mkdirSync(shots, { recursive: true });
    await section.screenshot({ path: path.join(shots, 'io-bytes.png') });
  });

  it('names a bad input, then runs again', async () => {
    let section = await runSection(opened.page, 'io-bytes', { seqMin: 64, seqMax: 64, fastKibMin: 1, fastKibMax: 1, headDim: 128 });
    assert.equal(await section.getAttribute('data-state'), 'error');
    assert.match(await section.locator('[role=alert]').textContent(),
      /fast_bytes = 1024: expected at least 16 · head_dim = 2048/);
    section = await runSection(opened.page, 'flash-backward', { seqMin: 64, seqMax: 64, heads: 4, kvHeads: 3 });
    assert.equal(await section.getAttribute('data-state'), 'error');
    assert.match(await section.locator('[role=alert]').textContent(), /kv_heads = 3: expected a divisor of heads = 4/);
    section = await runSection(opened.page, 'flash-backward', { seqMin: 64, seqMax: 128, kvHeads: 2 }, 60_000);
    await expectDone(section);
    assert.deepEqual(opened.errors, []);
  });
});
