// Browser test of the "Checkpointing" section on the built page (web/dist).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { chartPoints, expectDone, openPage, runSection, shots } from './helpers.mjs';

let opened;

describe('Checkpointing section', { timeout: 180_000 }, () => {
  before(async () => { opened = await openPage(); });
  after(async () => { await opened?.close(); });

  it('measures policies, plots the timeline, trains the tiny GPT and compares LoRA memory', async () => {
    const section = await runSection(opened.page, 'checkpointing',
      { layers: '4, 16', policies: 'none, sqrt, every:3', width: 64, hidden: 256, batch: 16,
        timelineLayers: 16, trainSteps: 20, rank: 4 }, 120_000);
    await expectDone(section);
    assert.equal(await chartPoints(section, 'peak'), 6, 'peak chart: 2 depths × 3 policies');
    assert.equal(await chartPoints(section, 'time'), 6);
    assert.ok(await chartPoints(section, 'timeline') > 100, 'timeline: an event per allocation and free');
    assert.equal(await chartPoints(section, 'loss'), 20, 'one loss per training step');

    const cells = await section.locator('[data-test=checkpoint-table] [data-peak]').evaluateAll(
      (all) => all.map((c) => ({ peak: Number(c.dataset.peak), formula: Number(c.dataset.formula) })));
    assert.equal(cells.length, 3);
    for (const c of cells) assert.equal(c.peak, c.formula, 'measured peak = documented formula');
    // width 64, hidden 256, batch 16: a = 4096, h = 16384; none 17(a+h), sqrt 8a + 5h
    assert.equal(cells[0].peak, 17 * (4096 + 16384));
    assert.equal(cells[1].peak, 8 * 4096 + 5 * 16384);
    assert.ok(cells[1].peak <= 0.5 * cells[0].peak);

    const savings = await section.locator('[data-test=lora-table] [data-saving]').evaluateAll(
      (all) => all.map((c) => Number(c.dataset.saving)));
    assert.equal(savings.length, 2);
    assert.ok(savings[1] >= 0.65, `QLoRA should need ≥ 65% less than full fine-tuning, got ${savings[1]}`);
    const sample = await section.locator('[data-text=sample] figcaption').textContent();
    const [, before, afterLoss] = sample.match(/eval loss ([\d.]+) → ([\d.]+)/);
    assert.ok(Number(afterLoss) < Number(before), `training lowers the loss: ${sample}`);
  });

  it('names a bad policy, then runs again', async () => {
    let section = await runSection(opened.page, 'checkpointing', { policies: 'none, every:0' });
    assert.equal(await section.getAttribute('data-state'), 'error');
    assert.match(await section.locator('[role=alert]').textContent(), /k = 0: expected a positive number of blocks per segment/);
    section = await runSection(opened.page, 'checkpointing',
      { layers: '4, 8, 16, 32', policies: 'none, every:2, sqrt', width: 32, hidden: 128, batch: 8, trainSteps: 40 }, 150_000);
    await expectDone(section);
    mkdirSync(shots, { recursive: true });
    await section.screenshot({ path: path.join(shots, 'checkpointing.png') });
    assert.deepEqual(opened.errors, []);
  });
});
