// Browser test of the page offline (web/dist; `npm run build` first).
//
// The service worker (vite-plugin-pwa, Workbox) precaches the page and the core;
// the compiler worker keeps the toolchain it downloaded in Cache Storage. So: load
// the page from a sub-path, let the service worker take control, Compile & Test
// once, then go offline (playwright's setOffline) and reload: the page, an
// experiment and Compile & Test must still work. The manifest makes the page
// installable: Chromium's own check (DevTools' Page.getInstallabilityErrors) finds
// nothing missing, and the icons are PNGs of the sizes the manifest says.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { openPage, runSection, expectDone, chartPoints } from './helpers.mjs';
import { exercisePage } from './exercise-page.mjs';

const COMPILE_TIMEOUT = 180_000; // the first Compile & Test loads ~120 MB of toolchain
let opened, page, ui;

describe('offline', { timeout: 500_000 }, () => {
  before(async () => {
    opened = await openPage();
    page = opened.page;
    ui = exercisePage(page);
  });
  after(async () => {
    await opened?.browser.context.setOffline(false);
    await opened?.close();
  });

  it('a service worker takes control of the page, scoped to its sub-path', async () => {
    const scope = await page.evaluate(async () => {
      const registration = await navigator.serviceWorker.ready;
      if (!navigator.serviceWorker.controller)
        await new Promise((resolve) => navigator.serviceWorker.addEventListener('controllerchange', resolve, { once: true }));
      return registration.scope;
    });
    assert.equal(scope, opened.url);
  });

  it('is installable: a manifest with 192 and 512 px PNG icons, no installability error', async () => {
    const href = await page.locator('link[rel=manifest]').getAttribute('href');
    const manifest = await page.evaluate(async (h) => (await fetch(h)).json(), href);
    assert.equal(manifest.start_url, './');
    assert.equal(manifest.display, 'standalone');
    for (const icon of manifest.icons) {
      const [w, h] = await page.evaluate(async (src) => {
        const bitmap = await createImageBitmap(await (await fetch(src)).blob());
        return [bitmap.width, bitmap.height];
      }, new URL(icon.src, new URL(href, opened.url)).href);
      assert.equal(`${w}x${h}`, icon.sizes, `${icon.src}: ${w}x${h}, the manifest says ${icon.sizes}`);
    }
    assert.deepEqual(manifest.icons.map((i) => i.sizes).sort(), ['192x192', '512x512']);
    const cdp = await opened.browser.context.newCDPSession(page);
    const { installabilityErrors } = await cdp.send('Page.getInstallabilityErrors');
    assert.deepEqual(installabilityErrors, [], JSON.stringify(installabilityErrors));
  });

  it('Compile & Test once online', async () => {
    await ui.ready();
    await ui.open('01-online-softmax');
    const { outcome } = await ui.compileAndTest(COMPILE_TIMEOUT);
    assert.equal(outcome, 'failed', 'the skeleton of exercise 1 compiles and fails its cases');
  });

  it('offline, a reload still shows the page, runs an experiment and compiles', async () => {
    await opened.browser.context.setOffline(true);
    await page.reload();
    await page.waitForSelector('#core-status[data-state=ready]', { timeout: 30_000 });
    assert.equal(await page.locator('h1').textContent(), 'memlab');
    const section = await runSection(page, 'gqa', { seqMin: 64, seqMax: 128, heads: 2, repeats: 1 });
    await expectDone(section);
    assert.ok(await chartPoints(section, 'kv') > 0);
    // the trained model's weights come from the precache too
    const kv = await runSection(page, 'kv-cache', { tokens: '8', layers: 1, dModel: 32, heads: 2, kvHeads: 1, noCache: false });
    await expectDone(kv);
    assert.ok((await kv.locator('[data-text=trained] pre').textContent()).length > 0);

    await ui.ready();
    await ui.open('01-online-softmax');
    const { outcome } = await ui.compileAndTest(COMPILE_TIMEOUT);
    const said = await page.locator('#exercises [data-test=results]').textContent();
    assert.equal(outcome, 'failed', `offline, the skeleton of exercise 1 should compile and fail its cases: ${said}\n${opened.errors.join('\n')}`);
    // nothing was fetched from the network: what failed, failed for being offline
    const pageErrors = opened.errors.filter((e) => e.startsWith('page error'));
    assert.deepEqual(pageErrors, []);
  });
});
