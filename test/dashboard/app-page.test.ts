/**
 * The dashboard's live pages in a real browser (KVM): a server with a token,
 * the sobel example and a faulting one-node app deployed, Debian's headless
 * Chromium on the list and app pages. sobel is deployed through the page's
 * upload form; keyboard navigation reaches its page; its DAG shows four
 * nodes and four edges and its text alternative lists them; the figures,
 * node colours and histograms move while requests are sent; a redeploy asks
 * first; the injected fault shows in the error counts (by kind and at its
 * node) and the logs tail; remove asks first and works.
 * A screenshot of each page is saved (test-artifacts/, path printed).
 *
 * Without /dev/kvm the file runs in the KVM machine, and Chromium with it:
 * the machine sees the host's /usr/bin/chromium through its 9p share, and
 * browser and server meet on the machine's own loopback (docs/testing.md).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { ApiClient } from '../../src/client/api-client.js';
import { artifactPath, CHROMIUM, launchBrowser } from '../helpers/browser.js';
import { kvmOptions } from '../helpers/kvm.js';
import { scaled, scaledTimeout } from '../helpers/scale.js';
import { startTestServer, type TestServer } from '../server/helpers.js';
import { faultyBody } from './faulty-app.js';

const TOKEN = 'app-page-test-token';
const SOBEL = join(import.meta.dirname, '../../examples/sobel');
const SOBEL_BINARIES = ['build/shared/imageops.so', 'build/smooth.elf', 'build/gradx.elf', 'build/grady.elf', 'build/magnitude.elf'].map((f) => join(SOBEL, f));
/** How long a page may take to show what the server already has (Chromium is slow in the emulated machine). */
const SHOWS = scaledTimeout(30_000);

const options = existsSync(CHROMIUM) ? kvmOptions() : { skip: `${CHROMIUM} is not installed (apt-get install chromium)` };

describe('dashboard app pages (browser, KVM)', { ...options, timeout: scaledTimeout(180_000) }, () => {
  let srv: TestServer;
  let api: ApiClient;
  let base: string;
  let b: Awaited<ReturnType<typeof launchBrowser>>;
  let page: Page;

  before(async () => {
    srv = await startTestServer({ token: TOKEN });
    base = `http://127.0.0.1:${srv.httpPort}`;
    api = new ApiClient(base, TOKEN);
    await api.deploy(faultyBody('faulty'));
    b = await launchBrowser();
    page = await b.browser.newPage();
    page.on('pageerror', (e) => console.log('page error:', e.message));
    await page.goto(`${base}/`);
    await page.getByLabel('This server needs its API token').fill(TOKEN);
    await page.getByRole('button', { name: 'Use token' }).click();
  });
  after(async () => {
    await b?.close();
    await srv?.stop();
  });

  test('deploy: the sobel template and its binaries uploaded through the form', async () => {
    await page.locator('tr[data-app="faulty"]').waitFor({ timeout: SHOWS });
    await page.getByLabel('Definition (template, JSON or binary)').setInputFiles(join(SOBEL, 'sobel.tmpl'));
    // Only the binaries: the missing one is named.
    await page.getByLabel('Function binaries and libraries').setInputFiles(SOBEL_BINARIES.slice(1));
    await page.getByRole('button', { name: 'Deploy', exact: true }).click();
    await page.getByRole('alert').filter({ hasText: 'needs build/shared/imageops.so' }).waitFor({ timeout: SHOWS });
    await page.getByLabel('Definition (template, JSON or binary)').setInputFiles(join(SOBEL, 'sobel.tmpl'));
    await page.getByLabel('Function binaries and libraries').setInputFiles(SOBEL_BINARIES);
    await page.getByRole('button', { name: 'Deploy', exact: true }).click();
    // The page goes to the new app's page.
    await page.waitForFunction(() => location.hash === '#/app/sobel', undefined, { timeout: SHOWS });
    assert.ok((await api.list()).some((a) => a.name === 'sobel'));
  });

  test('the app list; the keyboard reaches the sobel page', async () => {
    await page.goto(`${base}/#/`);
    await page.locator('tr[data-app="sobel"]').waitFor({ timeout: SHOWS });
    await page.locator('tr[data-app="faulty"]').waitFor({ timeout: SHOWS });
    await page.screenshot({ path: artifactPath('dashboard-apps.png'), fullPage: true });
    // Tab from the top of the page until the focus is on sobel's link.
    await page.locator('body').focus();
    let reached = false;
    for (let i = 0; i < 20 && !reached; i++) {
      await page.keyboard.press('Tab');
      reached = await page.evaluate(() => document.activeElement?.textContent === 'sobel' && document.activeElement.tagName === 'A');
    }
    assert.ok(reached, 'Tab reaches the link to the sobel page');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => location.hash === '#/app/sobel', undefined, { timeout: SHOWS });
  });

  test('sobel: four nodes and four edges, listed in the text alternative; figures move with requests', async () => {
    await page.locator('svg.dag g.node').first().waitFor({ timeout: SHOWS });
    assert.deepEqual(await page.locator('svg.dag g.node').evaluateAll((els) => els.map((e) => e.getAttribute('data-node'))), ['smooth', 'gradx', 'grady', 'magnitude']);
    assert.equal(await page.locator('svg.dag path.edge').count(), 4);
    const alt = (await page.locator('svg.dag').getAttribute('aria-label')) ?? '';
    for (const id of ['smooth', 'gradx', 'grady', 'magnitude']) assert.match(alt, new RegExp(`\\b${id}\\b`));
    // The text alternative: a table with a row per node, its parents and children.
    const table = page.getByRole('table', { name: 'DAG nodes' });
    assert.deepEqual(await table.locator('tbody th').allTextContents(), ['smooth', 'gradx', 'grady', 'magnitude']);
    assert.equal(await table.locator('tr[data-node="magnitude"] td').nth(1).textContent(), 'gradx, grady');
    assert.equal(await page.locator('.requests').first().textContent(), '0');
    assert.equal(await page.locator('svg.dag g.node[data-p50=""]').count(), 4, 'no node has a p50 before a request');

    const image = Buffer.alloc(16384, 7);
    const n = scaled(40, 4);
    for (let round = 1; round <= 2; round++) {
      for (let i = 0; i < n; i++) await api.invoke('sobel', image);
      // The page shows every request sent so far, with a p50 and p99.
      await page.waitForFunction((want) => document.querySelector('.requests')?.textContent === String(want), round * n, { timeout: SHOWS });
    }
    assert.match((await page.locator('.p50').first().textContent()) ?? '', /^[\d.]+ (µs|ms)$/);
    assert.match((await page.locator('.p99').first().textContent()) ?? '', /^[\d.]+ (µs|ms)$/);
    assert.equal(await page.locator('.errors').first().textContent(), 'none');
    // Every node coloured by its p50, and its histogram holds its runs.
    await page.waitForFunction(() => document.querySelectorAll('svg.dag g.node[data-p50=""]').length === 0, undefined, { timeout: SHOWS });
    for (const id of ['smooth', 'gradx', 'grady', 'magnitude']) {
      const node = page.locator(`svg.dag g.node[data-node="${id}"]`);
      assert.ok(Number(await node.getAttribute('data-p50')) >= 0);
      assert.match((await node.locator('rect').getAttribute('style')) ?? '', /fill: rgba/);
      const hist = page.locator(`figure.hist[data-node="${id}"]`);
      assert.equal(await hist.locator('figcaption').textContent(), `${id} (${2 * n} runs)`);
      assert.ok((await hist.locator('rect').count()) >= 3);
    }
    await page.screenshot({ path: artifactPath('dashboard-app-sobel.png'), fullPage: true });

    // Redeploy: the same definition again, confirmed.
    await page.getByLabel('Definition (template, JSON or binary)').setInputFiles(join(SOBEL, 'sobel.tmpl'));
    await page.getByLabel('Function binaries and libraries').setInputFiles(SOBEL_BINARIES);
    page.once('dialog', (d) => { assert.match(d.message(), /Redeploy sobel\?/); void d.accept(); });
    await page.getByRole('button', { name: 'Redeploy', exact: true }).click();
    await page.getByRole('status').filter({ hasText: 'Redeployed sobel' }).waitFor({ timeout: SHOWS });
  });

  test('an injected fault shows in the error counts and the logs tail; remove asks first', async () => {
    await page.goto(`${base}/#/app/faulty`);
    await page.locator('svg.dag g.node').first().waitFor({ timeout: SHOWS });
    await assert.rejects(api.invoke('faulty', Buffer.alloc(64)));
    const kinds = Object.keys((await api.get('faulty')).stats.errors);
    assert.equal(kinds.length, 1, 'the server counted one kind of error');
    const kind = kinds[0]!;
    await page.waitForFunction((k) => document.querySelector('.errors')?.textContent === `${k}: 1`, kind, { timeout: SHOWS });
    await page.waitForFunction((k) => (document.querySelector('pre.logs')?.textContent ?? '').includes(` error ${k}`), kind, { timeout: SHOWS });
    // Counted at its node, whose outline shows the error rate.
    await page.waitForFunction(() => document.querySelector('svg.dag g.node')?.getAttribute('data-error-rate') === '1', undefined, { timeout: SHOWS });
    assert.equal(await page.getByRole('table', { name: 'DAG nodes' }).locator('td.node-errors').textContent(), '1');
    await page.screenshot({ path: artifactPath('dashboard-app-faulty.png'), fullPage: true });

    // Dismissed: nothing happens. Accepted: the app is gone.
    page.once('dialog', (d) => void d.dismiss());
    await page.getByRole('button', { name: 'Remove faulty' }).click();
    assert.ok((await api.list()).some((a) => a.name === 'faulty'), 'a dismissed confirmation keeps the app');
    page.once('dialog', (d) => { assert.match(d.message(), /Remove faulty\?/); void d.accept(); });
    await page.getByRole('button', { name: 'Remove faulty' }).click();
    await page.getByRole('status').filter({ hasText: 'Removed faulty' }).waitFor({ timeout: SHOWS });
    assert.equal((await api.list()).some((a) => a.name === 'faulty'), false);
    await page.goto(`${base}/#/`);
    await page.locator('tr[data-app="sobel"]').waitFor({ timeout: SHOWS });
    // The list drops the app with the stream's next tick.
    await page.locator('tr[data-app="faulty"]').waitFor({ state: 'detached', timeout: SHOWS });
  });
});
