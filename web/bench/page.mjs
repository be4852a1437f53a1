// Drives one section of the built page (web/dist) in Chromium for a benchmark:
// fills its controls, runs it, and returns the rows of one of its tables as text.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium } from '../e2e/chromium.mjs';
import { serveStatic } from '../e2e/static-server.mjs';

const dist = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'dist');

export async function runSection(sectionId, values, tableSelector) {
  const server = await serveStatic(dist, '/');
  const browser = await launchChromium();
  try {
    const { page } = browser;
    await page.goto(server.url);
    await page.waitForSelector('#core-status[data-state=ready]', { timeout: 30_000 });
    const section = page.locator(`section#${sectionId}`);
    for (const [name, value] of Object.entries(values)) {
      const input = section.locator(`[name=${name}]`);
      if (typeof value === 'boolean') await input.setChecked(value);
      else await input.fill(String(value));
    }
    await section.locator('button[data-action=run]').click();
    await page.waitForFunction((id) => ['done', 'error'].includes(document.getElementById(id).dataset.state),
      sectionId, { timeout: 1_200_000 });
    if ((await section.getAttribute('data-state')) === 'error')
      throw new Error(await section.locator('[role=alert]').textContent());
    const rows = await section.locator(`${tableSelector} tbody tr`).evaluateAll((trs) =>
      trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent.trim().replace(/(ok|> 1e-5)$/, ''))));
    const browserName = await page.evaluate(() => navigator.userAgent.match(/Chrom\w+\/[\d.]+/)?.[0]);
    return { rows, browserName };
  } finally {
    await browser.close();
    await server.close();
  }
}

export function printTable(header, rows) {
  console.log(header.map((h) => h.padStart(15)).join(''));
  for (const r of rows) console.log(r.map((c) => c.padStart(15)).join(''));
}
