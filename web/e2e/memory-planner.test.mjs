// Browser test of the "Memory planner" section on the built page (web/dist).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { expectDone, openPage, runSection, shots } from './helpers.mjs';

let opened;

/** The after-bar's bytes per part, the totals and the devices it fits. */
async function breakdown(section) {
  const figure = section.locator('[data-figure=breakdown] .figure-body');
  const parts = await section.locator('[data-test=planner-table] [data-part]').evaluateAll(
    (cells) => Object.fromEntries(cells.map((c) => [c.dataset.part, Number(c.dataset.bytes)])));
  const fits = await section.locator('[data-test=planner-table] [data-fits]').getAttribute('data-fits');
  const markers = await figure.locator('[data-marker]').evaluateAll((all) => all.map((m) => m.dataset.marker));
  return { before: Number(await figure.getAttribute('data-before')), after: Number(await figure.getAttribute('data-after')),
    parts, fits: fits ? fits.split('|') : [], markers };
}

/** The tiny-GPT panel: [{predicted, measured}] of its measured rows. */
async function check(section) {
  return section.locator('[data-test=planner-check] [data-predicted]').evaluateAll((cells) => cells
    .filter((c) => c.dataset.measured !== 'null')
    .map((c) => ({ predicted: Number(c.dataset.predicted), measured: Number(c.dataset.measured) })));
}

describe('Memory planner section', { timeout: 240_000 }, () => {
  before(async () => { opened = await openPage(); });
  after(async () => { await opened?.close(); });

  it('plans Llama-2-7B in q4_0 with a paged fp16 cache, and the tiny GPT measures what it predicts', async () => {
    const section = await runSection(opened.page, 'memory-planner',
      { preset: 'llama-2-7b', shape: '', seq: 4096, batch: 1, train: 'none', weights: 'q4_0', kv: 'fp16',
        paged: true, checkpoint: 'none', rank: 8, activationBytes: 2 }, 120_000);
    await expectDone(section);
    const b = await breakdown(section);
    assert.deepEqual(b.markers, ['8 GB laptop', '24 GB GPU', '80 GB A100']);
    // q4_0: 18 bytes per 32 weights, norms fp32 (core's planner_test asserts the same)
    assert.equal(b.parts.weights, (6738415616 - 266240) / 32 * 18 + 4 * 266240);
    assert.equal(b.parts['KV cache'], 2 * 32 * 32 * 128 * 4096 * 2);
    assert.ok(b.before > 3.5 * b.after, `before ${b.before}, after ${b.after}`);
    assert.deepEqual(b.fits, ['8 GB laptop', '24 GB GPU', '80 GB A100']);
    const rows = await check(section);
    assert.ok(rows.length >= 2);
    for (const r of rows) assert.equal(r.measured, r.predicted, 'predicted = measured on the tiny GPT');
    mkdirSync(shots, { recursive: true });
    await section.screenshot({ path: path.join(shots, 'memory-planner.png') });
  });

  it('QLoRA on Llama-2-70B with sqrt checkpointing fits an A100; full fine-tuning fits nothing', async () => {
    let section = await runSection(opened.page, 'memory-planner',
      { preset: 'llama-2-70b', train: 'qlora', checkpoint: 'sqrt', seq: 512, activationBytes: 2 }, 150_000);
    await expectDone(section);
    let b = await breakdown(section);
    assert.deepEqual(b.fits, ['80 GB A100']);
    assert.ok(b.parts.adapters > 0 && b.parts.optimizer === 2 * b.parts.adapters);
    for (const r of await check(section)) assert.equal(r.measured, r.predicted);
    section = await runSection(opened.page, 'memory-planner', { train: 'full', preset: 'mixtral-8x7b', attention: 'naive' }, 150_000);
    await expectDone(section);
    b = await breakdown(section);
    assert.deepEqual(b.fits, []);
    assert.equal(b.parts.gradients, b.parts.weights, 'fp32 gradients: 4 bytes a parameter, as the weights');
    for (const r of await check(section)) assert.equal(r.measured, r.predicted, 'the MoE tiny GPT trains as predicted (naive attention)');
    await section.screenshot({ path: path.join(shots, 'memory-planner-training.png') });
  });

  it('names a bad format and a bad shape edit, then plans again', async () => {
    let section = await runSection(opened.page, 'memory-planner', { preset: 'gpt2', train: 'none', weights: 'q3_k' });
    assert.equal(await section.getAttribute('data-state'), 'error');
    assert.match(await section.locator('[role=alert]').textContent(), /weights = q3_k: expected one of fp32, fp16, bf16/);
    section = await runSection(opened.page, 'memory-planner', { weights: 'fp16', shape: 'kv_heads=5' });
    assert.match(await section.locator('[role=alert]').textContent(), /kv_heads = 5: expected a divisor of heads = 12/);
    section = await runSection(opened.page, 'memory-planner', { shape: 'layers=24', seq: 1024, kv: 'fp32', paged: false }, 60_000);
    await expectDone(section);
    const b = await breakdown(section);
    assert.equal(b.parts['KV cache'], 2 * 24 * 12 * 64 * 1024 * 4, 'GPT-2 with 24 layers: twice the 75.5 MB');
    assert.deepEqual(opened.errors, []);
  });
});
