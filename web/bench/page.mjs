// What the in-browser benchmarks share: run one section of the built page with
// given inputs (see e2e/helpers.mjs) and read one of its tables as text.
import { openPage, runSection } from '../e2e/helpers.mjs';

// runs > 1 runs the section that many times in the same page (one wasm
// instance) and returns every run's table in `runs` (the last one as `rows` and
// `caption`): V8 compiles wasm with its baseline compiler first and optimizes hot
// functions while they run, and single runs of a short loop vary (the tiny GPT's
// cached step in Chromium, 15 runs one after another: 584, 146, 669, 213, 155,
// 315, 148, ... 129 µs), so a figure that is a fastest-of-N natively should be
// one here too.
export async function benchSection(sectionId, values, tableSelector, runs = 1) {
  const opened = await openPage({ coreTimeout: 60_000 });
  try {
    const t0 = Date.now();
    const tables = [];
    for (let run = 0; run < runs; ++run) {
      const section = await runSection(opened.page, sectionId, values, 1_800_000);
      if ((await section.getAttribute('data-state')) === 'error')
        throw new Error(await section.locator('[role=alert]').textContent());
      const rows = await section.locator(`${tableSelector} tbody tr`).evaluateAll((trs) =>
        trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent.trim().replace(/(ok|> 1e-5)$/, ''))));
      const caption = await section.locator(`${tableSelector} caption`).evaluateAll((c) => c[0]?.textContent ?? '');
      tables.push({ rows, caption });
    }
    const browserName = await opened.page.evaluate(() => navigator.userAgent.match(/Chrom\w+\/[\d.]+/)?.[0]);
    return { ...tables.at(-1), runs: tables, browserName, seconds: (Date.now() - t0) / 1000 };
  } finally {
    await opened.close();
  }
}

export function printTable(header, rows) {
  console.log(header.map((h) => h.padStart(15)).join('  '));
  for (const r of rows) console.log(r.map((c) => c.padStart(15)).join('  '));
}
