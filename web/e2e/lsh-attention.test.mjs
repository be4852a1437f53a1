// Browser test of the LSH attention section (web/dist): a small run draws time and
// heap against naive and flash, the error chart and both tables; LSH's tracked
// peak is its output plus its exact scratch; clustered keys beat random ones at 8
// rounds; a bad bucket count shows the core's message and the section recovers.
// Saves a screenshot of the section to e2e/screenshots/lsh-attention.png.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { openPage, runSection, expectDone, chartPoints, shots } from './helpers.mjs';

const small = {
  seqMin: 256, seqMax: 1024, headDim: 32, nBuckets: 16, nRounds: 4, chunk: 32, naiveMax: 512, repeats: 1,
  clustered: true, causal: false, gridSeq: 256, gridBuckets: '4, 16', gridRounds: '1, 8',
};

let opened, page;

describe('LSH attention section', { timeout: 120_000 }, () => {
  before(async () => {
    opened = await openPage();
    page = opened.page;
  });

  after(async () => {
    await opened?.close();
  });

  it('a small run draws time, heap and error, with exact peaks and the expected errors', async () => {
    const section = await runSection(page, 'lsh-attention', small, 60_000);
    await expectDone(section);
    // seq 256, 512, 1024: LSH and flash at all three, naive up to 512
    assert.equal(await chartPoints(section, 'time'), 3 + 2 + 3);
    assert.equal(await chartPoints(section, 'heap'), 3 + 2 + 3);
    // 2 kinds of data x 2 round counts x 2 bucket counts
    assert.equal(await chartPoints(section, 'errors'), 8);

    const rows = await section.locator('[data-test=lsh-table] tbody tr').evaluateAll((trs) => trs.map((tr) => ({
      peak: Number(tr.querySelector('[data-peak]').dataset.peak),
      scratch: Number(tr.querySelector('[data-scratch]').dataset.scratch),
      error: Number(tr.querySelector('[data-error]').dataset.error),
    })));
    assert.equal(rows.length, 3);
    [256, 512, 1024].forEach((seq, i) => assert.equal(rows[i].peak, seq * 32 * 4 + rows[i].scratch, `seq ${seq}: peak`));
    assert.ok(rows[0].error < 0.5 && rows[1].error < 0.5, `clustered, 4 rounds: ${rows.map((r) => r.error)}`);
    assert.ok(Number.isNaN(rows[2].error), 'no exact reference past naiveMax');

    const cells = await section.locator('[data-test=error-table] [data-error]').evaluateAll((tds) => tds.map((td) => ({
      data: td.dataset.data, rounds: Number(td.dataset.rounds), error: Number(td.dataset.error),
    })));
    assert.equal(cells.length, 8);
    const at = (data, rounds) => cells.filter((c) => c.data === data && c.rounds === rounds).map((c) => c.error);
    const [clustered8, random8] = [at('clustered', 8), at('random', 8)];
    assert.ok(clustered8[1] * 2 < random8[1], `16 buckets, 8 rounds: clustered ${clustered8[1]}, random ${random8[1]}`);
  });

  it('an odd bucket count shows the core\'s message, and the section recovers', async () => {
    const section = await runSection(page, 'lsh-attention', { ...small, nBuckets: 3 });
    assert.equal(await section.getAttribute('data-state'), 'error');
    const alert = section.locator('[role=alert]');
    assert.match(await alert.textContent(), /n_buckets = 3: expected 1 or an even number/);
    const again = await runSection(page, 'lsh-attention', { ...small, seqMax: 512 }, 60_000);
    await expectDone(again);
    assert.equal(await alert.isVisible(), false);
    assert.equal(await chartPoints(again, 'time'), 2 + 2 + 2);
  });

  it('saves a screenshot of the section after a full run, with no console errors', async () => {
    const section = await runSection(page, 'lsh-attention', { ...small, seqMax: 2048, naiveMax: 1024, gridSeq: 512,
      gridBuckets: '2, 4, 8, 16, 32, 64', gridRounds: '1, 2, 4, 8' }, 90_000);
    await expectDone(section);
    mkdirSync(shots, { recursive: true });
    await section.screenshot({ path: path.join(shots, 'lsh-attention.png') });
    assert.deepEqual(opened.errors, [], `console errors:\n${opened.errors.join('\n')}`);
  });
});
