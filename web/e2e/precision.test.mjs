// Browser test of the Precision section (web/dist): a small run draws the error
// charts by sequence length and by logit scale, the heap and time charts and the
// rounding histogram; 2-byte storage halves the Q, K, V bytes; fp16's logits
// overflow to NaN outputs at a large scale while scaling first keeps them, and
// bf16 never overflows; a bad logit scale shows the core's message. Saves a
// screenshot of the section to e2e/screenshots/precision.png.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { openPage, runSection, expectDone, chartPoints, shots } from './helpers.mjs';

const small = { seqMin: 32, seqMax: 128, headDim: 16, causal: false, scaleSeq: 32, scales: '1, 1000, 10000',
  values: 20000, bins: 20 };

let opened, page;

describe('precision section', { timeout: 120_000 }, () => {
  before(async () => {
    opened = await openPage();
    page = opened.page;
  });

  after(async () => {
    await opened?.close();
  });

  it('a small run draws every chart; bytes halve; fp16 overflows unless Q is scaled first', async () => {
    const section = await runSection(page, 'precision', small, 60_000);
    await expectDone(section);
    assert.equal(await chartPoints(section, 'error-seq'), 6 * 3);     // 6 arithmetics x seq 32, 64, 128
    assert.equal(await chartPoints(section, 'matmul-seq'), 5 * 3);    // scale first is the same matmul
    assert.equal(await chartPoints(section, 'heap'), 3 * 3);          // fp32, bf16, fp16 storage
    assert.equal(await chartPoints(section, 'time'), 6 * 3);
    assert.equal(await chartPoints(section, 'nonfinite-scale'), 6 * 3);
    assert.equal(await chartPoints(section, 'histogram'), 2 * 20);
    // at scale 10000 (unscaled logits ~ 40000 std) fp16 with the scale after, and fp16
    // sums, are NaN; fp32's error is exactly 0 (the softmax is one-hot, the output a
    // row of V): three points a log axis leaves out
    assert.equal(await chartPoints(section, 'error-scale'), 6 * 3 - 3);

    const rows = await section.locator('[data-test=precision-table] tbody tr').evaluateAll((trs) => trs.map((tr) => ({
      label: tr.querySelector('[data-label]').dataset.label,
      relative: Number(tr.querySelector('[data-relative]').dataset.relative),
      bytes: Number(tr.querySelector('[data-bytes]').dataset.bytes),
    })));
    assert.deepEqual(rows.map((r) => r.label), ['fp32', 'bf16, fp32 sums', 'fp16, fp32 sums',
      'fp16, fp32 sums, scale first', 'bf16, bf16 sums', 'fp16, fp16 sums']);
    assert.equal(rows[0].bytes, 3 * 128 * 16 * 4);
    for (const r of rows.slice(1)) assert.equal(r.bytes, 3 * 128 * 16 * 2, `${r.label}: 2 bytes a value`);
    assert.ok(rows[0].relative < 1e-6 && rows[2].relative < rows[1].relative, JSON.stringify(rows));

    const nonfinite = await section.locator('[data-test=scale-table] [data-nonfinite]').evaluateAll((tds) =>
      tds.map((td) => ({ label: td.dataset.label, scale: Number(td.dataset.scale), n: Number(td.dataset.nonfinite) })));
    const at = (label, scale) => nonfinite.find((c) => c.label === label && c.scale === scale).n;
    assert.equal(at('fp16, fp32 sums', 1), 0);
    assert.ok(at('fp16, fp32 sums', 10000) > 0, 'fp16 logits past 65504');
    assert.equal(at('fp16, fp32 sums, scale first', 10000), 0);
    assert.equal(at('bf16, fp32 sums', 10000), 0);
  });

  it('a logit scale of 0 shows the core\'s message, and the section recovers', async () => {
    const section = await runSection(page, 'precision', { ...small, scales: '0' });
    assert.equal(await section.getAttribute('data-state'), 'error');
    const alert = section.locator('[role=alert]');
    assert.match(await alert.textContent(), /logit_scale = 0: expected a positive finite number/);
    const again = await runSection(page, 'precision', small, 60_000);
    await expectDone(again);
    assert.equal(await alert.isVisible(), false);
  });

  it('saves a screenshot of the section after a full run, with no console errors', async () => {
    const section = await runSection(page, 'precision', { ...small, seqMax: 256, headDim: 64, scaleSeq: 64,
      scales: '1, 10, 100, 1000, 3000, 10000, 30000', values: 100000, bins: 40 }, 100_000);
    await expectDone(section);
    mkdirSync(shots, { recursive: true });
    await section.screenshot({ path: path.join(shots, 'precision.png') });
    assert.deepEqual(opened.errors, [], `console errors:\n${opened.errors.join('\n')}`);
  });
});
