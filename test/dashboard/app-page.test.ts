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
import { sseEvents } from '../helpers/sse.js';
import { startTestServer, type TestServer } from '../server/helpers.js';
import { faultyBody } from './faulty-app.js';

const TOKEN = 'app-page-test-token';
const SOBEL = join(import.meta.dirname, '../../examples/sobel');
const SOBEL_BINARIES = ['build/shared/imageops.so', 'build/smooth.elf', 'build/gradx.elf', 'build/grady.elf', 'build/magnitude.elf'].map((f) => join(SOBEL, f));
/** How long a page may take to show what the server already has (Chromium is slow in the emulated machine). */
const SHOWS = scaledTimeout(30_000);

interface Tick { id: number; event: string; apps: { name: string; requests: number }[]; data: unknown }

/** Reads an events stream in the background, keeping every event (its id, name, apps and data). */
function tickReader(url: string) {
  const ctl = new AbortController();
  const evs: Tick[] = [];
  let wake: (() => void) | undefined;
  const reading = (async () => {
    const res = await fetch(url, { headers: { authorization: `Bearer ${TOKEN}` }, signal: ctl.signal });
    assert.equal(res.status, 200);
    for await (const e of sseEvents(res)) {
      const data = e.data as { apps?: Tick['apps'] } | null;
      evs.push({ id: e.id, event: e.event, apps: data?.apps ?? [], data });
      wake?.();
    }
  })().catch((e: unknown) => { if (!ctl.signal.aborted) throw e; });
  return {
    /** Waits for an event whose apps satisfy `ok`. */
    async until(ok: (apps: Tick['apps']) => boolean): Promise<void> {
      while (!evs.some((e) => ok(e.apps))) await new Promise<void>((r) => { wake = r; });
    },
    async close(): Promise<Tick[]> {
      ctl.abort();
      await reading;
      return evs;
    },
  };
}

/** The first `stats` event's data of an events stream. */
async function firstStats(url: string): Promise<unknown> {
  const r = tickReader(url);
  await r.until(() => true);
  return (await r.close())[0]!.data;
}

/**
 * tsx compiles this file keeping function names (a `__name(fn, "loop")` call
 * around each named function), and functions handed to page.evaluate carry
 * those calls into the page: the page gets a `__name` that does nothing.
 */
async function allowNames(p: Page): Promise<void> {
  const src = 'globalThis.__name = (f) => f';
  await p.addInitScript({ content: src });
  await p.evaluate(src);
}

const options = existsSync(CHROMIUM) ? kvmOptions() : { skip: `${CHROMIUM} is not installed (apt-get install chromium)` };

describe('dashboard app pages (browser, KVM)', { ...options, timeout: scaledTimeout(300_000) }, () => {
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
      assert.match((await node.locator('rect.box').getAttribute('style')) ?? '', /fill: rgba/);
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

  test('DAG nodes by keyboard: Tab focuses each, with a ring in both themes; Enter and Space select it', async () => {
    await page.goto(`${base}/#/`);
    await page.locator('tr[data-app="sobel"]').waitFor({ timeout: SHOWS });
    await page.evaluate(() => { location.hash = '#/app/sobel'; });
    // The page's heading takes the focus; the DAG's nodes come next in the Tab order.
    await page.waitForFunction(() => document.activeElement?.id === 'app-title', undefined, { timeout: SHOWS });
    const focused = () => page.evaluate(() => document.activeElement?.getAttribute('data-node') ?? null);
    /** The focused node's ring colour, the theme's focus colour, and an unfocused node's ring. */
    const rings = () => page.evaluate(() => {
      const probe = document.createElement('span');
      probe.style.color = 'var(--focus)';
      document.body.append(probe);
      const focus = getComputedStyle(probe).color;
      probe.remove();
      const ring = document.activeElement!.querySelector('rect.ring')!;
      const other = document.querySelector('svg.dag g.node:not(:focus) rect.ring')!;
      return { ring: getComputedStyle(ring).stroke, focus, other: getComputedStyle(other).stroke };
    });
    await page.keyboard.press('Tab');
    assert.equal(await focused(), 'smooth');
    await page.keyboard.press('Tab');
    assert.equal(await focused(), 'gradx');
    const light = await rings();
    assert.equal(light.ring, light.focus, 'the focused node has a ring in the focus colour');
    assert.equal(light.other, 'none', 'an unfocused node has none');
    await page.emulateMedia({ colorScheme: 'dark' });
    const dark = await rings();
    assert.equal(dark.ring, dark.focus);
    assert.notEqual(dark.focus, light.focus, 'the dark theme has its own focus colour');
    await page.emulateMedia({ colorScheme: null });

    // Each node is a button named by its node, function and figures.
    const gradx = page.getByRole('button', { name: /^gradx, function \S+, p50 [\d.]+ (µs|ms), error rate 0%$/ });
    assert.equal(await gradx.count(), 1);
    assert.equal(await gradx.getAttribute('aria-pressed'), 'false');
    await page.keyboard.press('Enter');
    await page.locator('p.selection').filter({ hasText: /^Selected gradx, function \S+, p50 .*, \d+ runs, 0 errors\.$/ }).waitFor({ timeout: SHOWS });
    assert.equal(await gradx.getAttribute('aria-pressed'), 'true');
    assert.equal(await page.locator('table.dag-table tr.selected').getAttribute('data-node'), 'gradx');
    assert.equal(await page.locator('figure.hist.selected').getAttribute('data-node'), 'gradx');
    // Space on the next node moves the selection; Enter again clears it.
    await page.keyboard.press('Tab');
    assert.equal(await focused(), 'grady');
    await page.keyboard.press(' ');
    await page.locator('p.selection').filter({ hasText: /^Selected grady,/ }).waitFor({ timeout: SHOWS });
    assert.equal(await gradx.getAttribute('aria-pressed'), 'false');
    assert.equal(await page.locator('figure.hist.selected').getAttribute('data-node'), 'grady');
    await page.keyboard.press('Enter');
    await page.locator('svg.dag g.node.selected').waitFor({ state: 'detached', timeout: SHOWS });
    assert.equal(await page.locator('p.selection').textContent(), '');
    assert.equal(await page.locator('table.dag-table tr.selected').count(), 0);
  });

  test('under load: each events stream sends one event a tick per client; the page renders at most once a frame and ends on the server figures', async () => {
    // The page is on sobel's app page (the test before). Instrumentation: frames counted by an
    // animation-frame loop, renders by a MutationObserver on the request count.
    await page.locator('p.figures .requests').waitFor({ timeout: SHOWS });
    await allowNames(page);
    await page.evaluate(() => {
      const t = { frames: 0, renders: 0, on: true };
      (window as unknown as { __load: typeof t }).__load = t;
      const loop = () => { if (!t.on) return; t.frames++; requestAnimationFrame(loop); };
      requestAnimationFrame(loop);
      new MutationObserver(() => { if (t.on) t.renders++; }).observe(document.querySelector('p.figures .requests')!, { childList: true, characterData: true, subtree: true });
    });
    const INTERVAL = 250;
    const readers = [tickReader(`${base}/ui/events?interval_ms=${INTERVAL}`), tickReader(`${base}/ui/events?interval_ms=${INTERVAL}`)];
    // Load from parallel senders, each back to back.
    const image = Buffer.alloc(16384, 7);
    const total = scaled(3000, 60);
    let next = 0;
    await Promise.all(Array.from({ length: 8 }, async () => { while (next++ < total) await api.invoke('sobel', image); }));
    const served = (await api.get('sobel')).stats.requests;
    assert.ok(served >= total);
    // Nothing lost or stale: the page and each stream end on the server's count.
    await page.waitForFunction((want) => document.querySelector('p.figures .requests')?.textContent === String(want), served, { timeout: SHOWS });
    const load = await page.evaluate(() => { const t = (window as unknown as { __load: { frames: number; renders: number; on: boolean } }).__load; t.on = false; return t; });
    assert.ok(load.renders >= 1);
    assert.ok(load.renders <= load.frames, `${load.renders} renders in ${load.frames} frames`);
    for (const r of readers) await r.until((apps) => apps.find((a) => a.name === 'sobel')?.requests === served);
    for (const r of readers) {
      const evs = await r.close();
      // One `stats` event per tick and nothing else: ids are the tick numbers, in order, none twice.
      assert.deepEqual(evs.map((e) => e.id), evs.map((_e, i) => i));
      assert.ok(evs.every((e) => e.event === 'stats'));
    }
  });

  test('a burst of 1,000+ events in the page: renders coalesced, last state shown, DOM bounded, keyboard answers', async () => {
    // The page's own stream reader, state and render path, fed from inside a second tab: the test
    // replaces fetch for the two streams there (an init script, not page code) and sends the burst.
    const template = (await firstStats(`${base}/ui/events`));
    const p2 = await b.browser.newPage();
    p2.on('pageerror', (e) => console.log('page error:', e.message));
    await p2.addInitScript(() => {
      const w = window as unknown as { __feeds: Record<string, ReadableStreamDefaultController<Uint8Array>> };
      const real = window.fetch.bind(window);
      w.__feeds = {};
      window.fetch = (input, init) => {
        const url = String(input);
        const kind = url.startsWith('/ui/events') ? 'stats' : url.includes('/logs?follow=true') ? 'logs' : undefined;
        if (!kind) return real(input, init);
        const body = new ReadableStream<Uint8Array>({ start(c) { w.__feeds[kind] = c; } });
        return Promise.resolve(new Response(body, { status: 200, headers: { 'content-type': 'text/event-stream' } }));
      };
    });
    await allowNames(p2);
    await p2.goto(`${base}/#/app/sobel`);
    // The app page opens its logs stream once the first stats event names the app.
    await p2.waitForFunction(() => 'stats' in (window as unknown as { __feeds: object }).__feeds, undefined, { timeout: SHOWS });
    await p2.evaluate((tpl) => {
      (window as unknown as { __feeds: Record<string, ReadableStreamDefaultController<Uint8Array>> }).__feeds.stats!.enqueue(new TextEncoder().encode(`id: 0\nevent: stats\ndata: ${JSON.stringify(tpl)}\n\n`));
    }, template);
    await p2.waitForFunction(() => 'logs' in (window as unknown as { __feeds: object }).__feeds, undefined, { timeout: SHOWS });
    await p2.evaluate((tpl) => {
      type Burst = { min: number; sent: number; frames: number; statsRenders: number; logRenders: number; stop: boolean; fed: boolean; done: boolean; last?: { requests: number; p50Us: number; runs: number } };
      const w = window as unknown as { __feeds: Record<string, ReadableStreamDefaultController<Uint8Array>>; __startBurst(min: number): void; __burst: Burst; __total: number };
      const enc = new TextEncoder();
      const app0 = tpl.apps.find((a) => a.name === 'sobel')!;
      w.__total = 0;
      w.__startBurst = (min) => {
        const b: Burst = { min, sent: 0, frames: 0, statsRenders: 0, logRenders: 0, stop: false, fed: false, done: false };
        w.__burst = b;
        const loop = () => { if (b.done) return; b.frames++; requestAnimationFrame(loop); };
        requestAnimationFrame(loop);
        const count = (k: 'statsRenders' | 'logRenders') => () => { if (!b.done) b[k]++; };
        const opts = { childList: true, characterData: true, subtree: true };
        const mos = [new MutationObserver(count('statsRenders')), new MutationObserver(count('logRenders'))];
        mos[0]!.observe(document.querySelector('p.figures .requests')!, opts);
        mos[1]!.observe(document.querySelector('pre.logs')!, opts);
        (b as Burst & { mos: MutationObserver[] }).mos = mos;
        const step = () => {
          let stats = '', logs = '';
          for (let k = 0; k < 10; k++) {
            const i = ++w.__total;
            b.sent++;
            const app = { ...app0, requests: app0.requests + i, rate: i, p50Us: 1000 + (i % 5000), p99Us: 9000, nodes: app0.nodes.map((n) => ({ ...n, runs: n.runs + i })) };
            b.last = { requests: app.requests, p50Us: app.p50Us, runs: app.nodes[0]!.runs };
            stats += `id: ${i}\nevent: stats\ndata: ${JSON.stringify({ ...tpl, apps: [app] })}\n\n`;
            logs += `id: ${i}\nevent: log\ndata: ${JSON.stringify({ seq: i, time: new Date().toISOString(), kind: 'log', node: 0, message: `burst entry ${i}` })}\n\n`;
          }
          w.__feeds.stats!.enqueue(enc.encode(stats));
          w.__feeds.logs!.enqueue(enc.encode(logs));
          if (b.stop && b.sent >= b.min) b.fed = true;
          else setTimeout(step, 0);
        };
        setTimeout(step, 0);
      };
    }, template as { apps: { name: string; requests: number; nodes: { runs: number }[] }[] });

    type BurstState = { sent: number; frames: number; statsRenders: number; logRenders: number; last: { requests: number; p50Us: number; runs: number } };
    /** Stops the burst once it sent `min` events, waits until the page shows the last, and returns the counts. */
    const finish = async (): Promise<BurstState & { lines: string[]; nodes: number }> => {
      await p2.evaluate(() => { (window as unknown as { __burst: { stop: boolean } }).__burst.stop = true; });
      await p2.waitForFunction(() => (window as unknown as { __burst: { fed: boolean } }).__burst.fed, undefined, { timeout: SHOWS });
      await p2.waitForFunction(() => {
        const w = window as unknown as { __burst: BurstState; __total: number };
        return document.querySelector('p.figures .requests')?.textContent === String(w.__burst.last.requests)
          && (document.querySelector('pre.logs')?.textContent ?? '').endsWith(`burst entry ${w.__total}\n`);
      }, undefined, { timeout: SHOWS });
      return p2.evaluate(() => {
        const b = (window as unknown as { __burst: BurstState & { done: boolean; mos: MutationObserver[] } }).__burst;
        b.done = true;
        for (const m of b.mos) m.disconnect();
        const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_ALL);
        let nodes = 0;
        while (walker.nextNode()) nodes++;
        const { mos: _m, ...counts } = b;
        return { ...counts, lines: (document.querySelector('pre.logs')?.textContent ?? '').split('\n').slice(0, -1), nodes };
      });
    };

    try {
      await p2.bringToFront();
      await p2.locator('svg.dag g.node').first().waitFor({ timeout: SHOWS });
      await p2.waitForFunction(() => document.activeElement?.id === 'app-title', undefined, { timeout: SHOWS });
      await p2.evaluate((min) => (window as unknown as { __startBurst(n: number): void }).__startBurst(min), 1000);
      const sent = () => p2.evaluate(() => (window as unknown as { __burst: { sent: number } }).__burst.sent);
      await p2.waitForFunction(() => (window as unknown as { __burst: { statsRenders: number } }).__burst.statsRenders > 0, undefined, { timeout: SHOWS });
      // The keyboard during the burst: Tab reaches the first node, Enter selects it.
      const before = await sent();
      await p2.keyboard.press('Tab');
      assert.equal(await p2.evaluate(() => document.activeElement?.getAttribute('data-node')), 'smooth');
      await p2.keyboard.press('Enter');
      await p2.locator('p.selection').filter({ hasText: /^Selected smooth,/ }).waitFor({ timeout: SHOWS });
      assert.ok((await sent()) > before, 'the burst went on while the keys were handled');

      const first = await finish();
      assert.ok(first.sent >= 1000, `${first.sent} events sent`);
      assert.ok(first.statsRenders >= 1 && first.statsRenders <= first.frames, `${first.statsRenders} stats renders in ${first.frames} frames for ${first.sent} events`);
      assert.ok(first.logRenders >= 1 && first.logRenders <= first.frames, `${first.logRenders} log renders in ${first.frames} frames for ${first.sent} entries`);
      // The last state sent is what shows, at the app and at its nodes.
      assert.equal(await p2.locator('p.figures .p50').textContent(), `${first.last.p50Us} µs`);
      assert.equal(await p2.locator('table.dag-table tr[data-node="smooth"] td').nth(5).textContent(), String(first.last.runs));
      // The logs tail keeps its last 200 entries, and the selection survived the burst.
      assert.equal(first.lines.length, 200);
      assert.match(first.lines[0]!, new RegExp(`burst entry ${first.sent - 199}$`));
      assert.equal(await p2.locator('svg.dag g.node[data-node="smooth"]').getAttribute('aria-pressed'), 'true');

      // A second burst: the page's size does not grow with the events it has seen.
      await p2.evaluate((min) => (window as unknown as { __startBurst(n: number): void }).__startBurst(min), scaled(1000, 250));
      const second = await finish();
      assert.ok(second.statsRenders <= second.frames, `${second.statsRenders} stats renders in ${second.frames} frames`);
      assert.equal(second.lines.length, 200);
      assert.equal(second.nodes, first.nodes, 'as many DOM nodes after the second burst as after the first');
    } finally {
      await p2.close();
      await page.bringToFront();
    }
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
