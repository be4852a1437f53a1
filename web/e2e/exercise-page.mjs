// Driving the page's Exercises section from playwright: shared by the browser
// test (exercises.test.mjs) and the benchmark (bench/exercises.mjs).
export function exercisePage(page) {
  const section = () => page.locator('#exercises');
  return {
    /**
     * Waits until the section and its editor are there and the page has loaded the
     * core module, so a reload that follows does not abort the core's download.
     */
    async ready(timeout = 30_000) {
      await page.waitForSelector('#exercises .cm-content', { timeout });
      await page.waitForSelector('#core-status[data-state=ready]', { timeout });
    },

    tab: (slug) => page.locator(`#exercises [data-slug="${slug}"]`),

    async open(slug) {
      await this.tab(slug).click();
      await page.waitForFunction((s) => document.getElementById('exercises').dataset.exercise === s, slug);
    },

    /** Replaces the editor's text as typed input (one insertion, no auto-indent). */
    async type(text) {
      await section().locator('.cm-content').click();
      await page.keyboard.press('Control+A');
      await page.keyboard.press('Delete');
      await page.keyboard.insertText(text);
    },

    editorText: () => page.evaluate(() => document.getElementById('exercises').editorText()),

    /**
     * Clicks Compile & Test and waits for the outcome:
     * { outcome (the results box's data-outcome), seconds, timing (the page's breakdown) }.
     */
    async compileAndTest(timeout = 120_000) {
      const t0 = Date.now();
      await section().locator('[data-action=test]').click();
      await page.waitForFunction(() => document.getElementById('exercises').dataset.state === 'done', null, { timeout });
      return {
        outcome: await section().locator('[data-test=results]').getAttribute('data-outcome'),
        seconds: (Date.now() - t0) / 1000,
        timing: await section().locator('[data-test=timing]').textContent(),
      };
    },
  };
}
