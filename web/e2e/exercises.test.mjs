// Browser test of the exercises in the built page (web/dist): run `npm run build`
// first. Debian's Chromium through playwright-core, the site served from a
// sub-path of a plain static server, nothing from the network.
//
// It types reference solutions (read from the repository, never shipped in dist)
// into four exercises and expects every case to pass, and the learner's code
// charted against the core's (exercises 2, 5, 7); runs a skeleton and expects
// failures with messages; a compile error shown at its line; an infinite loop
// stopped by the watchdog with the page responsive and the next run working; a
// trap reported with its test case; code and statuses surviving a reload; Reset
// asking first; Download. Screenshots go to e2e/screenshots/exercises-*.png.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { collectErrors, launchChromium } from './chromium.mjs';
import { serveStatic } from './static-server.mjs';
import { exercisePage } from './exercise-page.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const dist = path.join(here, '..', 'dist');
const exercisesDir = path.join(here, '..', '..', 'exercises');
const shots = path.join(here, 'screenshots');
const RUN_TIMEOUT = 120_000; // the first run loads ~120 MB of toolchain

let server, browser, page;
let consoleErrors = [];
const figures = [];

const solution = (slug) => readFileSync(path.join(exercisesDir, slug, 'solution.cpp'), 'utf8');
const skeleton = (slug) => readFileSync(path.join(exercisesDir, slug, 'exercise.cpp'), 'utf8');
let ui; // exercise-page.mjs on the page
const tab = (slug) => ui.tab(slug);
const open = (slug) => ui.open(slug);
const type = (text) => ui.type(text);
const editorText = () => ui.editorText();

/** Compile & Test; records the time under `label`; returns the verdict. */
async function compileAndTest(label) {
  const { outcome, seconds, timing } = await ui.compileAndTest(RUN_TIMEOUT)
    .catch(() => { throw new Error(`${label}: no outcome within ${RUN_TIMEOUT / 1000} s`); });
  figures.push(`${label}: ${seconds.toFixed(1)} s — ${timing}`);
  return outcome;
}

async function cases() {
  return page.locator('#exercises [data-test=cases] > li').evaluateAll((items) => items.map((li) => ({
    name: li.querySelector('.case-name').textContent,
    state: li.dataset.caseState,
    messages: li.querySelector('.failures')?.textContent ?? '',
  })));
}

async function statusOf(slug) {
  return tab(slug).getAttribute('data-status');
}

describe('exercises in the page', { timeout: 400_000 }, () => {
  before(async () => {
    assert.ok(existsSync(path.join(dist, 'index.html')), `${dist}/index.html missing: run \`npm run build\` first`);
    server = await serveStatic(dist, '/some/sub/path/');
    browser = await launchChromium();
    page = browser.page;
    ui = exercisePage(page);
    consoleErrors = collectErrors(page);
    mkdirSync(shots, { recursive: true });
    await page.goto(server.url);
    await ui.ready();
  });

  after(async () => {
    if (figures.length) console.log(`# exercise timings (headless Chromium):\n${figures.map((f) => `#   ${f}`).join('\n')}`);
    await browser?.close();
    await server?.close();
  });

  it('lists every exercise folder, none started, and never ships a solution', async () => {
    const slugs = await page.locator('#exercises [role=tab]').evaluateAll((t) => t.map((b) => b.dataset.slug));
    const folders = readdirSync(exercisesDir).filter((f) => /^\d\d-/.test(f)).sort();
    assert.ok(folders.length >= 9, `exercise folders: ${folders}`);
    assert.deepEqual(slugs, folders);
    for (const slug of slugs) assert.equal(await statusOf(slug), 'not-started', `${slug} should start as not started`);
    assert.match(await page.locator('#exercises .exercise-readme h3').first().textContent(), /Online softmax/);
    assert.equal(await editorText(), skeleton('01-online-softmax'), 'the editor should hold the skeleton');
    // every solution.cpp starts with this line; no file of the site may hold it
    for (const file of readdirSync(dist, { recursive: true })) {
      if (!/\.(js|html|css|txt|h)$/.test(file)) continue;
      assert.ok(!readFileSync(path.join(dist, file), 'utf8').includes('reference solution (used by CI'),
        `${file} holds a solution.cpp`);
    }
  });

  it('the skeleton compiles and every test case fails, with messages', async () => {
    await open('01-online-softmax');
    // what the progress line says along the way, from the toolchain's download to the run
    await page.evaluate(() => {
      window.progressTexts = [];
      const text = document.querySelector('#exercises .progress-text');
      new MutationObserver(() => window.progressTexts.push(text.textContent))
        .observe(text, { childList: true, characterData: true, subtree: true });
    });
    assert.equal(await compileAndTest('first Compile & Test (toolchain load, skeleton of 1)'), 'failed');
    const said = (await page.evaluate(() => window.progressTexts)).join('\n');
    for (const step of [/loading the C\+\+ toolchain \(once\): \d+ \/ 1\d\d MB/, /compiling/, /linking/, /running/])
      assert.match(said, step, `the progress line should have said ${step}`);
    const list = await cases();
    assert.equal(list.length, 5, 'exercise 1 has 5 test cases');
    for (const c of list) {
      assert.equal(c.state, 'failed', `“${c.name}” should fail on the skeleton`);
      assert.match(c.messages, /expected/, `“${c.name}” should say what was expected`);
    }
    assert.equal(await statusOf('01-online-softmax'), 'failing');
    await page.locator('#exercises').screenshot({ path: path.join(shots, 'exercises-skeleton.png') });
  });

  it('a correct solution typed into exercise 1 passes every case', async () => {
    await type(solution('01-online-softmax'));
    assert.equal(await compileAndTest('exercise 1, solution (warm)'), 'passed');
    const list = await cases();
    assert.equal(list.length, 5);
    assert.ok(list.every((c) => c.state === 'passed'), `every case should pass: ${JSON.stringify(list)}`);
    assert.equal(await statusOf('01-online-softmax'), 'passing');
  });

  it('a correct solution typed into exercise 2 passes every case', async () => {
    await open('02-flash-attention');
    await type(solution('02-flash-attention'));
    assert.equal(await compileAndTest('exercise 2, solution (warm)'), 'passed');
    const list = await cases();
    assert.equal(list.length, 3);
    assert.ok(list.every((c) => c.state === 'passed'), `every case should pass: ${JSON.stringify(list)}`);
  });

  it('after the tests pass, charts the learner\'s flash_attention against the core\'s', async () => {
    const box = page.locator('#exercises [data-test=comparison]');
    const t0 = Date.now();
    await page.waitForFunction(() => ['done', 'error', 'none'].includes(
      document.querySelector('#exercises [data-test=comparison]').dataset.state), null, { timeout: 90_000 });
    figures.push(`exercise 2, comparison with the core (5 sizes each): ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    assert.equal(await box.getAttribute('data-state'), 'done', await box.textContent());
    // seq 128 .. 2048: 5 points each for yours and the core's
    for (const chart of ['time', 'heap'])
      assert.equal(await box.locator(`[data-chart=${chart}]`).getAttribute('data-points'), '10', `${chart} chart`);
    assert.match(await box.locator('.comparison-note').textContent(), /At seq 2048: yours .* the core/);
    await page.locator('#exercises').screenshot({ path: path.join(shots, 'exercises-passed.png') });
  });

  for (const [slug, sizes, last] of [['05-kv-cache', 4, 'tokens 1024'], ['07-q8-0', 3, 'n 1048576'],
    ['12-lsh-attention', 3, 'seq 4096']]) {
    it(`a correct solution to ${slug} passes and is charted against the core's counterpart`, async () => {
      await open(slug);
      await type(solution(slug));
      assert.equal(await compileAndTest(`${slug}, solution`), 'passed');
      const box = page.locator('#exercises [data-test=comparison]');
      await page.waitForFunction(() => ['done', 'error', 'none'].includes(
        document.querySelector('#exercises [data-test=comparison]').dataset.state), null, { timeout: 90_000 });
      assert.equal(await box.getAttribute('data-state'), 'done', await box.textContent());
      assert.equal(await box.locator('h3').textContent(), 'Your implementation against the core');
      assert.equal(await box.locator('[data-chart=time]').getAttribute('data-points'), String(2 * sizes));
      assert.match(await box.locator('.comparison-note').textContent(), new RegExp(`At ${last}: yours .* the core`));
      await page.locator('#exercises').screenshot({ path: path.join(shots, `exercises-passed-${slug}.png`) });
    });
  }

  // Exercises whose core counterpart is not charted beside them: the skeleton fails every
  // case with a message; the solution passes and is charted by size alone.
  for (const [slug, count, points] of [
    ['10-flash-backward', 5, '4'], // seq 64 .. 512
    ['11-bf16', 10, '3']]) {
    it(`${slug}: the skeleton fails every case with a message, the solution passes and is charted by size`, async () => {
      await open(slug);
      assert.equal(await compileAndTest(`${slug}, skeleton`), 'failed');
      let list = await cases();
      assert.equal(list.length, count, `${slug} has ${count} test cases`);
      for (const c of list) {
        assert.equal(c.state, 'failed', `“${c.name}” should fail on the skeleton`);
        assert.match(c.messages, /expected/, `“${c.name}” should say what was expected`);
      }
      await type(solution(slug));
      assert.equal(await compileAndTest(`${slug}, solution`), 'passed');
      list = await cases();
      assert.ok(list.length === count && list.every((c) => c.state === 'passed'), `every case should pass: ${JSON.stringify(list)}`);
      const box = page.locator('#exercises [data-test=comparison]');
      await page.waitForFunction(() => ['done', 'error', 'none'].includes(
        document.querySelector('#exercises [data-test=comparison]').dataset.state), null, { timeout: 90_000 });
      assert.equal(await box.getAttribute('data-state'), 'done', await box.textContent());
      assert.equal(await box.locator('h3').textContent(), 'Your implementation by size');
      assert.equal(await box.locator('[data-chart=time]').getAttribute('data-points'), points);
      await page.locator('#exercises').screenshot({ path: path.join(shots, `exercises-passed-${slug}.png`) });
    });
  }

  it('a compile error is shown at its line, in the list and on the editor', async () => {
    await open('03-causal-attention');
    const code = skeleton('03-causal-attention').split('\n');
    const line = code.findIndex((l) => l.includes('return 0;')) + 1;
    code[line - 1] = code[line - 1].replace('return 0;', 'return undeclared_name;');
    await type(code.join('\n'));
    assert.equal(await compileAndTest('exercise 3, compile error'), 'compile-error');
    const diagnostic = page.locator('#exercises [data-test=diagnostics] li[data-file="exercise.cpp"]').first();
    assert.equal(await diagnostic.getAttribute('data-line'), String(line));
    assert.match(await diagnostic.textContent(), /undeclared_name/);
    // CodeMirror marks the line: an underlined range and a gutter marker
    await page.waitForSelector('#exercises .cm-lintRange-error');
    assert.equal(await page.locator('#exercises .cm-lint-marker-error').count(), 1);
    assert.equal(await statusOf('03-causal-attention'), 'failing');
    await page.locator('#exercises').screenshot({ path: path.join(shots, 'exercises-compile-error.png') });
  });

  it('compiles ahead when the learner pauses typing: errors appear without a click, then Compile & Test is instant', async () => {
    await type(skeleton('03-causal-attention').replace('return 0;', 'return 0  // a missing semicolon'));
    await page.waitForSelector('#exercises .cm-lintRange-error', { timeout: 30_000 });
    const { outcome, timing } = await ui.compileAndTest(RUN_TIMEOUT);
    assert.equal(outcome, 'compile-error');
    assert.match(timing, /already compiled/);
  });

  it('an infinite loop is stopped by the watchdog, the page stays responsive, the next run works', async () => {
    const code = skeleton('03-causal-attention').replace('return 0;',
      'for (volatile unsigned spin = 0;; spin = spin + 1) {}\n  return 0;');
    await type(code);
    const running = compileAndTest('exercise 3, infinite loop (10 s watchdog)');
    // while the test program spins, the page still answers
    await page.waitForFunction(() => document.getElementById('exercises').dataset.state === 'running');
    await page.waitForTimeout(5_000);
    const t0 = Date.now();
    await page.evaluate(() => new Promise((resolve) => setTimeout(resolve, 0)));
    const latency = Date.now() - t0;
    assert.ok(latency < 500, `the page took ${latency} ms to answer while the test program was looping`);
    assert.equal(await running, 'timeout');
    const headline = await page.locator('#exercises [data-test=results] .outcome').textContent();
    assert.match(headline, /Stopped after 10 s/);
    assert.match(headline, /causal_flash_attention matches/, 'the message should name the test case that was running');
    await page.locator('#exercises').screenshot({ path: path.join(shots, 'exercises-timeout.png') });

    await type(skeleton('03-causal-attention'));
    assert.equal(await compileAndTest('exercise 3, after the watchdog'), 'failed', 'the next run should work');
    assert.equal((await cases()).length, 4);
  });

  it('a trap is reported with the test case that was running', async () => {
    await open('04-gqa');
    await type(skeleton('04-gqa').replace('return 0;', '__builtin_trap();'));
    assert.equal(await compileAndTest('exercise 4, trap'), 'trap');
    const headline = await page.locator('#exercises [data-test=results] .outcome').textContent();
    assert.match(headline, /crashed in “kv_head_for maps query heads/);
    assert.match(headline, /aborted/);
  });

  it('code and statuses survive a reload; Reset asks first; Download gives the code', async () => {
    await open('01-online-softmax');
    const mine = solution('01-online-softmax');
    assert.equal(await editorText(), mine, 'switching back should show the saved code');
    await page.reload();
    await ui.ready();
    await open('01-online-softmax');
    assert.equal(await editorText(), mine, 'the code should survive a reload');
    assert.equal(await statusOf('01-online-softmax'), 'passing');
    assert.equal(await statusOf('02-flash-attention'), 'passing');
    assert.equal(await statusOf('03-causal-attention'), 'failing');
    assert.equal(await statusOf('05-kv-cache'), 'passing');
    assert.equal(await statusOf('06-paged-kv-cache'), 'not-started');
    // the toolchain stays in Cache Storage for the next visit
    const cached = await page.evaluate(async () =>
      (await (await caches.open('memlab-exercise-toolchain')).keys()).map((r) => r.url));
    for (const file of [/llvm\.core-[\w-]+\.wasm$/, /llvm-resources-[\w-]+\.tar$/, /prelude-[\w-]+\.pch$/, /main-[\w-]+\.o$/])
      assert.ok(cached.some((url) => file.test(url)), `${file} should be in Cache Storage: ${cached.join(', ')}`);

    const [download] = await Promise.all([page.waitForEvent('download'),
      page.locator('#exercises [data-action=download]').click()]);
    assert.equal(download.suggestedFilename(), '01-online-softmax-exercise.cpp');
    assert.equal(readFileSync(await download.path(), 'utf8'), mine);

    await page.locator('#exercises [data-action=reset]').click();
    const dialog = page.locator('#exercises dialog.confirm');
    assert.ok(await dialog.isVisible(), 'Reset should ask first');
    await dialog.locator('button[value=cancel]').click();
    assert.equal(await editorText(), mine, 'Cancel keeps the code');
    await page.locator('#exercises [data-action=reset]').click();
    await dialog.locator('[data-action=confirm-reset]').click();
    await page.waitForFunction((text) => document.getElementById('exercises').editorText() === text,
      skeleton('01-online-softmax'), { timeout: 5_000 }).catch(() => assert.fail('Reset should restore the skeleton'));
    assert.equal(await statusOf('01-online-softmax'), 'not-started');
    await page.reload();
    await ui.ready();
    await open('01-online-softmax');
    assert.equal(await editorText(), skeleton('01-online-softmax'), 'the reset should be saved');
  });

  it('has no console errors', () => {
    assert.deepEqual(consoleErrors, [], `console errors:\n${consoleErrors.join('\n')}`);
  });
});
