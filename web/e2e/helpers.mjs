// What the browser tests share: open the built page (web/dist) from a sub-path of
// a plain static server in Debian's Chromium, collect console and network errors,
// run an experiment section with given inputs, and read its charts.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium } from './chromium.mjs';
import { serveStatic } from './static-server.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
export const dist = path.join(here, '..', 'dist');
export const shots = path.join(here, 'screenshots');

/**
 * Serves dist/, launches Chromium, loads the page and waits for the core. The
 * sections' arrival runs are off (?autorun=0) unless `autorun`: a test that runs
 * a section with its own inputs does not wait behind them. `query`: more of the
 * page's URL parameters, e.g. { warmup: '0' }.
 */
export async function openPage({ coreTimeout = 30_000, autorun = false, query = {} } = {}) {
  assert.ok(existsSync(path.join(dist, 'index.html')), `${dist}/index.html missing: run \`npm run build\` first`);
  const server = await serveStatic(dist, '/some/sub/path/');
  const browser = await launchChromium();
  const { page } = browser;
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => errors.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  page.on('response', (r) => { if (r.status() >= 400) errors.push(`HTTP ${r.status()}: ${r.url()}`); });
  const search = new URLSearchParams({ ...(autorun ? {} : { autorun: '0' }), ...query }).toString();
  await page.goto(search ? `${server.url}?${search}` : server.url);
  await page.waitForSelector('#core-status[data-state=ready]', { timeout: coreTimeout }).catch(async () => {
    const s = page.locator('#core-status');
    throw new Error(`the core did not load: ${await s.textContent()} ${(await s.getAttribute('title')) ?? ''}`);
  });
  return {
    page,
    browser,
    url: server.url,
    errors,
    close: async () => {
      await browser.close();
      await server.close();
    },
  };
}

/** Sets the named inputs of a section, runs it and waits until it is done or failed. */
export async function runSection(page, sectionId, values, timeout = 30_000) {
  const section = page.locator(`section#${sectionId}`);
  for (const [name, value] of Object.entries(values)) {
    const input = section.locator(`[name=${name}]`);
    if (typeof value === 'boolean') await input.setChecked(value);
    else await input.fill(String(value));
  }
  const button = section.locator('button[data-action=run]');
  await button.click();
  await page.waitForFunction(
    (id) => ['done', 'error'].includes(document.getElementById(id).dataset.state),
    sectionId,
    { timeout },
  ).catch(() => { throw new Error(`#${sectionId}: the run did not finish within ${timeout / 1000} s`); });
  assert.equal(await button.isEnabled(), true, `#${sectionId}: Run stays disabled after the run`);
  return section;
}

/** Fails with the section's error message unless its run finished. */
export async function expectDone(section) {
  const state = await section.getAttribute('data-state');
  if (state !== 'done') {
    const alert = await section.locator('[role=alert]').textContent();
    assert.fail(`#${await section.getAttribute('id')}: expected a finished run, got state ${state}: ${alert}`);
  }
}

/** The number of points chart `chart` of the section plots. */
export async function chartPoints(section, chart) {
  const figure = section.locator(`[data-chart=${chart}]`);
  assert.equal(await figure.count(), 1, `chart ${chart} missing`);
  return Number(await figure.getAttribute('data-points'));
}
