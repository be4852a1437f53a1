// Debian's Chromium driven by playwright-core, as the browser tests and the
// in-browser benchmarks launch it: headless, no sandbox (root in CI), no
// background network (the machine has none), a fresh profile every time.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

export const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';

export async function launchChromium() {
  if (!existsSync(chromiumPath))
    throw new Error(`${chromiumPath} missing: apt-get install -y chromium (or set CHROMIUM)`);
  const userDataDir = mkdtempSync(path.join(tmpdir(), 'memlab-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: chromiumPath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
    viewport: { width: 1280, height: 900 },
  });
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    context,
    page,
    close: async () => {
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}
