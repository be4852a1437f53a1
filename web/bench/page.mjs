// What the in-browser benchmarks share: run one section of the built page with
// given inputs (see e2e/helpers.mjs) and read one of its tables as text.
import { openPage, runSection } from '../e2e/helpers.mjs';

export async function benchSection(sectionId, values, tableSelector) {
  const opened = await openPage({ coreTimeout: 60_000 });
  try {
    const t0 = Date.now();
    const section = await runSection(opened.page, sectionId, values, 1_800_000);
    if ((await section.getAttribute('data-state')) === 'error')
      throw new Error(await section.locator('[role=alert]').textContent());
    const rows = await section.locator(`${tableSelector} tbody tr`).evaluateAll((trs) =>
      trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent.trim().replace(/(ok|> 1e-5)$/, ''))));
    const caption = await section.locator(`${tableSelector} caption`).evaluateAll((c) => c[0]?.textContent ?? '');
    const browserName = await opened.page.evaluate(() => navigator.userAgent.match(/Chrom\w+\/[\d.]+/)?.[0]);
    return { rows, caption, browserName, seconds: (Date.now() - t0) / 1000 };
  } finally {
    await opened.close();
  }
}

export function printTable(header, rows) {
  console.log(header.map((h) => h.padStart(15)).join('  '));
  for (const r of rows) console.log(r.map((c) => c.padStart(15)).join('  '));
}
