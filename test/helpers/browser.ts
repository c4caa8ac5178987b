/**
 * Debian's headless Chromium (/usr/bin/chromium, which .ci/run installs)
 * driven by playwright-core. The background-networking flags matter on a
 * closed network: without them Chromium's own connections are refused and
 * slow the start. Each launch gets a fresh profile, removed on close.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

export async function launchBrowser(): Promise<{ browser: BrowserContext; close(): Promise<void> }> {
  const profile = mkdtempSync(join(tmpdir(), 'ataru-chromium-'));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  return {
    browser,
    async close() {
      await browser.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Where screenshots go (test-artifacts/, gitignored); the path is printed so a CI log names it. */
export function artifactPath(name: string): string {
  const dir = join(import.meta.dirname, '../../test-artifacts');
  mkdirSync(dir, { recursive: true });
  const p = join(dir, name);
  console.log(`screenshot: ${p}`);
  return p;
}
