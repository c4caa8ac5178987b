/**
 * The dashboard in a real browser without KVM: the page loads under its
 * strict CSP, asks for the token once, and draws the sobel template (4
 * nodes, 4 edges, exec[0] as the shared image) and a broken one's problem
 * at its line.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { artifactPath, CHROMIUM, launchBrowser } from '../helpers/browser.js';
import { startTestServer, type TestServer } from '../server/helpers.js';

const sobelTemplate = readFileSync(join(import.meta.dirname, '../../examples/sobel/sobel.tmpl'), 'utf8');
const TOKEN = 'browser-test-token';

describe('dashboard draw page (browser)', { skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed (apt-get install chromium)` }, () => {
  let srv: TestServer;
  let base: string;
  let b: Awaited<ReturnType<typeof launchBrowser>>;

  before(async () => {
    srv = await startTestServer({ token: TOKEN });
    base = `http://127.0.0.1:${srv.httpPort}`;
    b = await launchBrowser();
  });
  after(async () => {
    await b?.close();
    await srv.stop();
  });

  test('the page is served with a strict CSP and no token; data needs the token', async () => {
    const res = await fetch(`${base}/`);
    assert.equal(res.status, 200);
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.doesNotMatch(await res.text(), /<script>(?!<)/);
    assert.equal((await fetch(`${base}/apps`)).status, 401);
  });

  test('token once, then the sobel template drawn; a broken one shows its line', async () => {
    const page = await b.browser.newPage();
    const cspErrors: string[] = [];
    page.on('pageerror', (e) => console.log('page error:', e.message));
    page.on('console', (m) => { if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) cspErrors.push(m.text()); });
    await page.goto(`${base}/#/draw`);
    await page.getByRole('textbox', { name: 'Template or JSON definition' }).fill(sobelTemplate);
    await page.getByRole('button', { name: 'Draw' }).click();
    // The API answered 401: the page asks for the token, keeps it for the session.
    await page.getByLabel('This server needs its API token').fill(TOKEN);
    await page.getByRole('button', { name: 'Use token' }).click();
    await page.goto(`${base}/#/draw`);
    await page.getByRole('textbox', { name: 'Template or JSON definition' }).fill(sobelTemplate);
    // Keyboard: Tab to the button, Enter submits.
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await page.locator('svg.dag g.node').first().waitFor();
    assert.equal(await page.locator('svg.dag g.node').count(), 4);
    assert.equal(await page.locator('svg.dag path.edge').count(), 4);
    assert.deepEqual(await page.locator('svg.dag g.node').evaluateAll((els) => els.map((e) => e.getAttribute('data-node'))), ['smooth', 'gradx', 'grady', 'magnitude']);
    assert.match((await page.locator('svg.dag g.shared-image').textContent()) ?? '', /imageops\.so/);
    const alt = (await page.locator('svg.dag').getAttribute('aria-label')) ?? '';
    assert.match(alt, /4 nodes/);
    // The text alternative: a table of the nodes with the edges as parents and children.
    const table = page.getByRole('table', { name: 'DAG nodes' });
    assert.deepEqual(await table.locator('tbody th').allTextContents(), ['smooth', 'gradx', 'grady', 'magnitude']);
    assert.equal(await table.locator('tr[data-node="gradx"] td').nth(1).textContent(), 'smooth');
    assert.equal(await table.locator('tr[data-node="smooth"] td').nth(2).textContent(), 'gradx, grady');
    await page.screenshot({ path: artifactPath('dashboard-draw.png'), fullPage: true });

    const lines = sobelTemplate.split('\n');
    const at = lines.findIndex((l) => l.startsWith('exec[2].out_off'));
    lines[at] = 'exec[2].out_off : not-a-number';
    await page.getByRole('textbox', { name: 'Template or JSON definition' }).fill(lines.join('\n'));
    await page.getByRole('button', { name: 'Draw' }).click();
    await page.locator('ul.problems li').first().waitFor();
    assert.match((await page.locator('ul.problems').textContent()) ?? '', new RegExp(`line ${at + 1}:`));
    assert.deepEqual(cspErrors, []);

    // Light and dark themes follow the system setting.
    const background = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    await page.emulateMedia({ colorScheme: 'light' });
    const light = await background();
    await page.emulateMedia({ colorScheme: 'dark' });
    const dark = await background();
    assert.equal(light, 'rgb(255, 255, 255)');
    assert.notEqual(dark, light);
    await page.screenshot({ path: artifactPath('dashboard-draw-dark.png'), fullPage: true });
    await page.close();
  });
});
