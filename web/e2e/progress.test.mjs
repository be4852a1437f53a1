// Browser test of what the learner keeps and hands in, in the built page (web/dist,
// `npm run build` first), served from a sub-path, in Debian's Chromium:
//   - hints folded under the README, revealed one at a time, kept across reloads;
//   - Ctrl+Enter (and ⌘+Enter) runs Compile & Test;
//   - the fixture class of the grader's test (tools/grade/fixture-class.mjs),
//     imported as progress files and run in the page: every verdict equals the one
//     the gradebook gives for the same file; "Download all" gives those files in
//     the graders' layout, and (when a native build is there) ./lab grade's
//     grade-class on the unpacked zip agrees with the page;
//   - Export progress, then Import in a fresh profile; a bad file is refused;
//   - Share link: the code in the URL fragment, opened without asking in a fresh
//     profile, asked before replacing saved code; no request carries the code.
// Screenshots: e2e/screenshots/progress-*.png.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { inflateSync, strFromU8, unzipSync } from 'fflate';
import { collectErrors, launchChromium } from './chromium.mjs';
import { serveStatic } from './static-server.mjs';
import { exercisePage } from './exercise-page.mjs';
import { exercisesDir, fixtureClass, slugs as allSlugs } from '../../tools/grade/fixture-class.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..');
const dist = path.join(here, '..', 'dist');
const shots = path.join(here, 'screenshots');
const RUN_TIMEOUT = 300_000; // the first run loads ~120 MB of toolchain (slow on a shared, loaded machine)

const skeleton = (slug) => readFileSync(path.join(exercisesDir, slug, 'exercise.cpp'), 'utf8');
const hintsOf = (slug) => readFileSync(path.join(exercisesDir, slug, 'hints.md'), 'utf8')
  .split(/^## +/m).slice(1).map((part) => part.split('\n')[0].replace(/^\d+\.\s*/, '').trim());

/** The page's verdict as the gradebook writes it (tools/grade/grade-class). */
function asGradebookCell(outcome, headline) {
  if (outcome === 'passed') return 'passed';
  if (outcome === 'compile-error') return 'does not compile';
  if (outcome === 'timeout') return 'timeout';
  if (outcome === 'trap') return 'crashed';
  const counts = /(\d+) of (\d+) test cases? fails?/.exec(headline);
  return counts ? `${counts[1]} of ${counts[2]} cases failed` : `crashed (${headline})`;
}

/** A progress file (web/src/exercises/progress.js's format) holding `files`: { slug: code }. */
const progressFile = (name, files) => ({
  name,
  mimeType: 'application/json',
  buffer: Buffer.from(JSON.stringify({ format: 'memlab-progress', version: 1,
    exercises: Object.fromEntries(Object.entries(files).map(([slug, code]) => [slug, { code, status: 'not-started' }])) })),
});

async function importFile(page, file) {
  await page.locator('#exercises [data-test=import-file]').setInputFiles(file);
}

const notice = (page) => page.locator('#exercises [data-test=notice]');

describe('hints, progress, share links and the graders\' files in the page', { timeout: 600_000 }, () => {
  let server, browser, page, ui, errors;
  const requests = [];
  const root = mkdtempSync(path.join(tmpdir(), 'memlab-progress-'));

  before(async () => {
    assert.ok(existsSync(path.join(dist, 'index.html')), `${dist}/index.html missing: run \`npm run build\` first`);
    server = await serveStatic(dist, '/some/sub/path/');
    browser = await launchChromium();
    page = browser.page;
    ui = exercisePage(page);
    errors = collectErrors(page);
    page.on('request', (r) => requests.push(r.url()));
    mkdirSync(shots, { recursive: true });
    await page.goto(server.url);
    await ui.ready();
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('ships every exercise\'s hints, and no solution or mutant', () => {
    const files = readdirSync(dist, { recursive: true }).filter((f) => /\.(js|html|css|txt|h|json)$/.test(f));
    const site = files.map((f) => readFileSync(path.join(dist, f), 'utf8')).join('\n');
    // lines of a file that no shipped file has (skeletons, tests, READMEs, hints,
    // common/ of every exercise), and that a JS string would hold as they are
    // (plain ASCII, no quote or backslash)
    const slugs = readdirSync(exercisesDir).filter((d) => /^\d\d-/.test(d));
    const shipped = [
      ...slugs.flatMap((slug) => ['exercise.cpp', 'test.cpp', 'README.md', 'hints.md'].map((f) => path.join(exercisesDir, slug, f))),
      ...readdirSync(path.join(exercisesDir, 'common')).map((f) => path.join(exercisesDir, 'common', f)),
    ].map((f) => readFileSync(f, 'utf8')).join('\n');
    const ownLines = (text) => text.split('\n').map((l) => l.trim())
      .filter((l) => l.length > 25 && /^[ -~]+$/.test(l) && !/["\\]/.test(l) && !shipped.includes(l));
    for (const slug of slugs) {
      for (const title of hintsOf(slug)) {
        const words = title.split('`').sort((a, b) => b.length - a.length)[0]; // (a bundle may escape backticks)
        assert.ok(site.includes(words), `${slug}'s hint “${title}” should be in the site`);
      }
      const secret = [['solution.cpp', readFileSync(path.join(exercisesDir, slug, 'solution.cpp'), 'utf8')]];
      const mutants = path.join(exercisesDir, slug, 'mutants');
      if (existsSync(mutants)) {
        for (const m of readdirSync(mutants, { recursive: true }).filter((f) => f.endsWith('.cpp')))
          secret.push([`mutants/${m}`, readFileSync(path.join(mutants, m), 'utf8')]);
      }
      for (const [name, text] of secret) {
        const lines = ownLines(text);
        assert.ok(lines.length > 0 || name !== 'solution.cpp', `${slug}/${name}: no line of its own to look for`);
        for (const line of lines) assert.ok(!site.includes(line), `${slug}/${name} is in the site: “${line}”`);
      }
    }
  });

  it('hints are folded, revealed one at a time from the first, and kept across a reload', async () => {
    await ui.open('01-online-softmax');
    const box = page.locator('#exercises [data-test=hints]');
    const titles = hintsOf('01-online-softmax');
    assert.equal(titles.length, 3);
    assert.equal(await box.evaluate((d) => d.open), false, 'the hints start folded');
    assert.match(await box.locator('summary').textContent(), /Hints \(0 of 3 shown\)/);
    await box.locator('summary').click();
    assert.equal(await box.locator('.hint').count(), 0, 'opening shows no hint yet');
    await box.locator('[data-action=hint]').click();
    assert.deepEqual(await box.locator('.hint-title').allTextContents(), titles.slice(0, 1));
    assert.match(await box.locator('[data-action=hint]').textContent(), /Show hint 2 of 3/);
    await box.locator('[data-action=hint]').click();
    assert.deepEqual(await box.locator('.hint-title').allTextContents(), titles.slice(0, 2));
    assert.match(await box.locator('.hint').nth(1).textContent(), /exp\(m_old - m_new\)/, 'the hint\'s Markdown body');
    await box.scrollIntoViewIfNeeded();
    await page.locator('#exercises .exercise-info').screenshot({ path: path.join(shots, 'progress-hints.png') });
    await page.reload();
    await ui.ready();
    await ui.open('01-online-softmax');
    assert.equal(await box.evaluate((d) => d.open), true, 'revealed hints are open after a reload');
    assert.equal(await box.locator('.hint').count(), 2);
    await box.locator('[data-action=hint]').click();
    assert.equal(await box.locator('.hint').count(), 3);
    assert.equal(await box.locator('[data-action=hint]').isVisible(), false, 'no button past the last hint');
    await ui.open('02-flash-attention');
    assert.equal(await box.locator('.hint').count(), 0, 'each exercise has its own hints');
  });

  it('Ctrl+Enter in the editor and ⌘+Enter elsewhere in the section (a tab) run Compile & Test', async () => {
    await ui.open('01-online-softmax');
    await page.evaluate(() => {
      window.runs = 0;
      const section = document.getElementById('exercises');
      new MutationObserver(() => { if (section.dataset.state === 'running') window.runs++; })
        .observe(section, { attributes: true, attributeFilter: ['data-state'] });
    });
    const ranTo = async (n) => {
      await page.waitForFunction((k) => window.runs === k && document.getElementById('exercises').dataset.state === 'done',
        n, { timeout: RUN_TIMEOUT, polling: 250 }).catch(async (e) => {
        throw new Error(`${e.message}: ${JSON.stringify(await page.evaluate(() => [window.runs, document.getElementById('exercises').dataset.state]))}`);
      });
      return page.locator('#exercises [data-test=results]').getAttribute('data-outcome');
    };
    await page.locator('#exercises .cm-content').click();
    await page.keyboard.press('Control+Enter');
    assert.equal(await ranTo(1), 'failed', 'the skeleton fails');
    assert.equal(await ui.tab('01-online-softmax').getAttribute('data-status'), 'failing');
    await ui.tab('01-online-softmax').focus(); // (focus on the tab strip, not in the editor)
    await page.keyboard.press('Meta+Enter');
    assert.equal(await ranTo(2), 'failed');
    assert.equal(await page.evaluate(() => window.runs), 2, 'one run per key press');
  });

  it('the fixture class in the page: every verdict equals the gradebook\'s for the same file', async () => {
    const seen = [];
    for (const name of ['bob', 'carol']) {
      // the files that are not plain copies of the solutions (those pass in exercises.test.mjs)
      const planted = fixtureClass.find((s) => s.name === name).exercises.filter((e) => e.code && e.expect !== 'passed');
      await importFile(page, progressFile(`${name}.json`, Object.fromEntries(planted.map((e) => [e.slug, e.code()]))));
      // exercise 1 holds other code, run before (the skeleton, then bob's): the page asks first
      const dialog = page.locator('#exercises dialog.confirm');
      await dialog.waitFor({ state: 'visible' });
      const numbers = planted.map((e) => Number(e.slug.slice(0, 2))).join(', ');
      assert.match(await dialog.textContent(), new RegExp(`replaces your code and status for exercises ${numbers} ` +
        `\\(your own code differs in ${name === 'bob' ? '1' : '1, 7'}\\)`));
      if (name === 'carol') await page.screenshot({ path: path.join(shots, 'progress-import-asks.png') });
      await dialog.locator('[data-action=confirm-import]').click();
      await page.waitForFunction((n) => document.querySelector('#exercises [data-test=notice]').textContent.includes(`${n}.json`), name);
      assert.match(await notice(page).textContent(), new RegExp(`Imported ${planted.length} exercises`));
      for (const e of planted) {
        await ui.open(e.slug);
        assert.equal(await ui.editorText(), e.code(), `${name} ${e.slug}: the imported code is in the editor`);
        const { outcome } = await ui.compileAndTest(RUN_TIMEOUT);
        const headline = await page.locator('#exercises [data-test=results] .outcome').textContent();
        const cell = asGradebookCell(outcome, headline);
        seen.push(`${name} ${e.slug}: ${cell}`);
        assert.equal(cell, e.expect, `${name} ${e.slug} (${e.why}): the page said “${headline}”`);
      }
    }
    console.log(`page verdicts on the fixture class:\n${seen.join('\n')}`);
  });

  it('Download all gives the touched exercises as NN-slug/exercise.cpp, which grade-class grades as the page did', async (t) => {
    const [download] = await Promise.all([page.waitForEvent('download'),
      page.locator('#exercises [data-action=download-all]').click()]);
    assert.equal(download.suggestedFilename(), 'memlab-exercises.zip');
    const zip = unzipSync(new Uint8Array(readFileSync(await download.path())));
    const carol = fixtureClass.find((s) => s.name === 'carol').exercises;
    const bob = fixtureClass.find((s) => s.name === 'bob').exercises;
    // touched: carol's four, bob's 04 (imported, run, not replaced) — and nothing else
    const expected = {
      ...Object.fromEntries(carol.filter((e) => e.code).map((e) => [`${e.slug}/exercise.cpp`, e.code()])),
      '04-gqa/exercise.cpp': bob.find((e) => e.slug === '04-gqa').code(),
    };
    assert.deepEqual(Object.keys(zip).sort(), Object.keys(expected).sort());
    for (const [name, code] of Object.entries(expected)) assert.equal(strFromU8(zip[name]), code, name);
    assert.match(await notice(page).textContent(), /Downloaded memlab-exercises\.zip: 5 exercises \(01, 03, 04, 07, 09\)/);
    await page.locator('#exercises').screenshot({ path: path.join(shots, 'progress-download-all.png') });

    // the zip unpacked as a student's folder, graded natively (when a native build exists)
    const build = process.env.MEMLAB_GRADE_BUILD ?? path.join(repo, 'build', 'native');
    if (!existsSync(path.join(build, 'exercises', 'grade-args.txt'))) {
      t.skip(`no native build at ${build}: grade-class not run`);
      return;
    }
    const student = path.join(root, 'class', 'from-the-page');
    for (const [name, bytes] of Object.entries(zip)) {
      mkdirSync(path.dirname(path.join(student, name)), { recursive: true });
      writeFileSync(path.join(student, name), bytes);
    }
    const run = spawnSync(path.join(repo, 'tools', 'grade', 'grade-class'), [path.dirname(student), '--build', build, '--timeout', '2'],
      { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    const [header, row] = readFileSync(path.join(root, 'class', 'gradebook.csv'), 'utf8').trim().split('\n').map((l) => l.split(','));
    const cell = (slug) => row[header.indexOf(slug)];
    for (const e of carol.filter((x) => x.code)) assert.equal(cell(e.slug), e.expect, `graded ${e.slug}`);
    assert.equal(cell('04-gqa'), bob.find((e) => e.slug === '04-gqa').expect);
    assert.equal(cell('02-flash-attention'), 'missing');
  });

  let exported;
  it('Export progress gives code, statuses and hints; Import in a fresh profile restores them', async () => {
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#exercises [data-action=export]').click()]);
    assert.equal(download.suggestedFilename(), 'memlab-progress.json');
    exported = JSON.parse(readFileSync(await download.path(), 'utf8'));
    assert.equal(exported.format, 'memlab-progress');
    assert.equal(exported.exercises['01-online-softmax'].hints, 3);
    assert.equal(exported.exercises['01-online-softmax'].status, 'failing');
    assert.equal(exported.exercises['03-causal-attention'].code, fixtureClass[2].exercises[2].code());

    const other = await launchChromium();
    try {
      const otherUi = exercisePage(other.page);
      await other.page.goto(server.url);
      await otherUi.ready();
      assert.equal(await otherUi.tab('03-causal-attention').getAttribute('data-status'), 'not-started');
      await importFile(other.page, { name: 'memlab-progress.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(exported)) });
      await other.page.waitForFunction(() => /Imported/.test(document.querySelector('#exercises [data-test=notice]').textContent));
      for (const slug of Object.keys(exported.exercises))
        assert.equal(await otherUi.tab(slug).getAttribute('data-status'), exported.exercises[slug].status, `${slug}'s status`);
      await otherUi.open('03-causal-attention');
      assert.equal(await otherUi.editorText(), exported.exercises['03-causal-attention'].code);
      await otherUi.open('01-online-softmax');
      assert.equal(await other.page.locator('#exercises [data-test=hints] .hint').count(), 3);
      assert.match(await other.page.locator('#exercises [data-test=summary]').textContent(), new RegExp(`0 of ${allSlugs.length} passing, 5 failing`));

      // not a progress file: refused, with the reason, nothing changed
      await importFile(other.page, { name: 'notes.json', mimeType: 'application/json', buffer: Buffer.from('{"format": "other"}') });
      await other.page.waitForFunction(() => /notes\.json was not imported/.test(document.querySelector('#exercises [data-test=notice]').textContent));
      assert.match(await notice(other.page).textContent(), /format is "other", expected "memlab-progress"/);
      assert.equal(await otherUi.editorText(), exported.exercises['01-online-softmax'].code);
    } finally {
      await other.close();
    }
  });

  it('Share link puts the code in the URL fragment; opening it asks before replacing saved code; nothing is sent', async () => {
    const mine = `${skeleton('02-flash-attention')}\n// shared: the learner's own edit ✓\n`;
    await ui.open('02-flash-attention');
    await ui.type(mine);
    await page.locator('#exercises [data-action=share]').click();
    const link = await page.locator('#exercises [data-test=share-link]').inputValue();
    const url = new URL(link);
    assert.equal(url.origin + url.pathname, new URL(server.url).origin + new URL(server.url).pathname);
    const params = new URLSearchParams(url.hash.slice(1));
    assert.equal(params.get('exercise'), '02-flash-attention');
    const b64 = params.get('code').replace(/-/g, '+').replace(/_/g, '/');
    assert.equal(strFromU8(inflateSync(new Uint8Array(Buffer.from(b64, 'base64')))), mine, 'the fragment is the deflated code');
    assert.ok(link.length < mine.length, `compressed: a link of ${link.length} characters for ${mine.length} of code`);
    await page.locator('#exercises .exercise-actions').scrollIntoViewIfNeeded();
    await page.screenshot({ path: path.join(shots, 'progress-share.png') });

    const other = await launchChromium();
    const otherRequests = [];
    other.page.on('request', (r) => otherRequests.push(r.url()));
    try {
      const otherUi = exercisePage(other.page);
      // a fresh profile: nothing to replace, the code opens at once
      await other.page.goto(link);
      await otherUi.ready();
      await other.page.waitForFunction(() => document.getElementById('exercises').dataset.exercise === '02-flash-attention');
      await other.page.waitForFunction(() => /Opened the code shared/.test(document.querySelector('#exercises [data-test=notice]').textContent));
      assert.equal(await otherUi.editorText(), mine);
      assert.equal(new URL(other.page.url()).hash, '#exercises', 'the fragment is dropped once opened');

      // saved code of one's own: asked first; Cancel keeps it, Replace takes the link's
      const own = `${skeleton('02-flash-attention')}\n// my own work\n`;
      await otherUi.type(own);
      const dialog = other.page.locator('#exercises dialog.confirm');
      await other.page.goto(link);
      await otherUi.ready();
      await dialog.waitFor({ state: 'visible' });
      assert.match(await dialog.textContent(), /This link holds code for exercise 2, .* Replace your saved code/);
      await other.page.screenshot({ path: path.join(shots, 'progress-share-asks.png') });
      await dialog.locator('button[value=cancel]').click();
      await other.page.waitForFunction(() => /Kept your code/.test(document.querySelector('#exercises [data-test=notice]').textContent));
      assert.equal(await otherUi.editorText(), own);
      await other.page.goto(link);
      await otherUi.ready();
      await dialog.waitFor({ state: 'visible' });
      await dialog.locator('[data-action=confirm-share]').click();
      await other.page.waitForFunction(() => /Opened the code shared/.test(document.querySelector('#exercises [data-test=notice]').textContent));
      assert.equal(await otherUi.editorText(), mine);
      await other.page.reload();
      await otherUi.ready();
      assert.equal(await otherUi.editorText(), mine, 'the replaced code is saved');

      // a link cut short: a message, nothing replaced
      await other.page.goto(link.slice(0, link.length - 40));
      await otherUi.ready();
      await other.page.waitForFunction(() => /was not opened/.test(document.querySelector('#exercises [data-test=notice]').textContent));
      assert.equal(await otherUi.editorText(), mine);
    } finally {
      await other.close();
    }
    const withCode = [...requests, ...otherRequests].filter((u) => u.includes('code=') || u.includes(params.get('code').slice(0, 40)));
    assert.deepEqual(withCode, [], 'no request carries the shared code');
  });

  it('has no console errors', () => {
    assert.deepEqual(errors, [], `console errors:\n${errors.join('\n')}`);
  });
});
