/**
 * The dashboard's data routes without KVM: /ui/validate draws a definition
 * (nodes, edges, exec[0] as the shared image) or lists its problems at their
 * template lines; /ui/events streams `stats` ticks; both sit behind the token.
 * The page's icon and /favicon.ico do not.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sseEvents } from '../helpers/sse.js';
import { startTestServer, type TestServer } from '../server/helpers.js';

const sobelTemplate = readFileSync(join(import.meta.dirname, '../../examples/sobel/sobel.tmpl'), 'utf8');
const TOKEN = 'dash-test-token';

/** Reads SSE events from a fetch body until `count` events of `name` arrived. */
async function readEvents(res: Response, name: string, count: number): Promise<unknown[]> {
  const got: unknown[] = [];
  for await (const e of sseEvents(res)) {
    if (e.event === name && e.data !== null) got.push(e.data);
    if (got.length >= count) break;
  }
  return got;
}

describe('dashboard data routes', () => {
  let srv: TestServer;
  let base: string;
  const auth = { authorization: `Bearer ${TOKEN}` };

  before(async () => {
    srv = await startTestServer({ token: TOKEN });
    base = `http://127.0.0.1:${srv.httpPort}`;
  });
  after(() => srv.stop());

  async function validate(definition: string, encoding: 'text' | 'base64' = 'text') {
    const res = await fetch(`${base}/ui/validate`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ definition, encoding }) });
    assert.equal(res.status, 200);
    return (await res.json()) as {
      ok: boolean;
      name?: string;
      shared?: string | null;
      nodes?: { index: number; id: string; function: string }[];
      files?: string[];
      edges?: { from: number; to: number }[];
      problems: { code: string; message: string; location?: { line?: number; node?: number } }[];
    };
  }

  test('validate: the sobel template draws as 4 nodes, 4 edges and a shared image', async () => {
    const r = await validate(sobelTemplate);
    assert.equal(r.ok, true);
    assert.equal(r.name, 'sobel');
    assert.equal(r.shared, 'imageops.so');
    assert.deepEqual(r.nodes!.map((n) => n.id), ['smooth', 'gradx', 'grady', 'magnitude']);
    assert.deepEqual(r.edges!.map((e) => [e.from, e.to]).sort(), [[0, 1], [0, 2], [1, 3], [2, 3]]);
    // The uploads a deploy of it needs (the dashboard's deploy form matches files to these).
    assert.deepEqual(r.files!.sort(), ['build/gradx.elf', 'build/grady.elf', 'build/magnitude.elf', 'build/shared/imageops.so', 'build/smooth.elf']);
    assert.deepEqual(r.problems, []);
  });

  test('validate: a broken template lists its problem at the template line', async () => {
    const lines = sobelTemplate.split('\n');
    const at = lines.findIndex((l) => l.startsWith('exec[2].out_off'));
    lines[at] = 'exec[2].out_off : not-a-number';
    const r = await validate(lines.join('\n'));
    assert.equal(r.ok, false);
    assert.ok(r.problems.length >= 1);
    assert.ok(
      r.problems.some((p) => p.location?.line === at + 1),
      `a problem at line ${at + 1}: ${JSON.stringify(r.problems)}`,
    );
  });

  test('validate: garbage in the binary form is a problem, not a server error', async () => {
    const r = await validate(Buffer.from([0, 1, 2, 3]).toString('base64'), 'base64');
    assert.equal(r.ok, false);
    assert.equal(r.problems[0]!.code, 'BAD_DEFINITION');
  });

  test('events: a stats stream with successive ticks', async () => {
    const res = await fetch(`${base}/ui/events?interval_ms=250`, { headers: auth });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
    const evs = (await readEvents(res, 'stats', 2)) as { time: string; apps: unknown[] }[];
    assert.equal(evs.length, 2);
    for (const e of evs) assert.deepEqual(e.apps, []);
    assert.ok(Date.parse(evs[1]!.time) >= Date.parse(evs[0]!.time));
  });

  test('events: a tick length out of range is a 400 naming the field', async () => {
    const res = await fetch(`${base}/ui/events?interval_ms=1`, { headers: auth });
    assert.equal(res.status, 400);
    assert.match(await res.text(), /interval_ms/);
  });

  test('both routes need the token', async () => {
    const ev = await fetch(`${base}/ui/events`);
    assert.equal(ev.status, 401);
    const v = await fetch(`${base}/ui/validate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ definition: sobelTemplate }) });
    assert.equal(v.status, 401);
  });

  test('the icon needs no token (no 401 in the logs), the API still does', async () => {
    const ico = await fetch(`${base}/favicon.ico`);
    assert.notEqual(ico.status, 401);
    assert.equal(ico.status, 204);
    assert.equal(await ico.text(), '');
    // The page links its own icon, a bundled SVG, also open.
    const index = await fetch(`${base}/`);
    assert.equal(index.status, 200, 'the dashboard is built (npm run build:ui)');
    const href = /<link rel="icon" href="\.\/([^"]+)" type="image\/svg\+xml">/.exec(await index.text())?.[1];
    assert.ok(href, 'index.html links an SVG icon');
    const icon = await fetch(`${base}/${href}`);
    assert.equal(icon.status, 200);
    assert.match(icon.headers.get('content-type') ?? '', /^image\/svg\+xml/);
    assert.match(await icon.text(), /^<svg /);
    assert.equal((await fetch(`${base}/apps`)).status, 401);
    assert.equal((await fetch(`${base}/apps`, { headers: auth })).status, 200);
  });
});
