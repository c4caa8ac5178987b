/**
 * The server's data port end to end, for a 4-node no-op DAG (the diamond of
 * docs/original-system.md): latency p50/p99 at 1 connection (one request at a time) and
 * throughput at 1, 4 and 16 connections, beside two baselines from the same
 * run: the in-process app.run() of the same app, app.run() timed inside the
 * server during the end-to-end phase (an app idle between requests wakes
 * slower than one run back to back), and a trivial frame-echo TCP server
 * driven by the same client (loopback + client cost).
 * Server overhead at p50 = e2e − echo − in-server app.run (target ≤ 20 µs).
 */
import { createServer } from 'node:net';
import { rmSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULTS, type AppDefinition } from '../../src/app/model.js';
import type { AppHandle } from '../../src/runtime/types.js';
import { startServer } from '../../src/server/index.js';
import { frameHeader, okStatus } from '../../src/server/reply-frame.js';
import { runLoad } from '../../src/client/load.js';
import { fixturesBuildDir as fixtures } from '../../test/fixtures/functions/fixtures.js';
import { fmtRatio, fmtUs, percentile, printTable, timeEach, type BenchContext } from '../lib.js';

const MSG_LEN = 64;

function noopDiamond(): AppDefinition {
  return {
    ...DEFAULTS,
    name: 'bench-noop4',
    msg_len: MSG_LEN,
    instances: 2,
    nodes: [0, 1, 2, 3].map((k) => ({ id: `noop${k}`, function: { path: fixtures, name: 'noop.elf' }, inp_off: 0, out_off: 0x10000 * (k + 1) })),
    edges: [
      { from: 0, to: 1 },
      { from: 0, to: 2 },
      { from: 1, to: 3 },
      { from: 2, to: 3 },
    ],
  };
}

/** A data-port look-alike that answers each msg_len request at once with an empty OK frame. */
async function echoServer(): Promise<{ port: number; close(): void }> {
  const frame = frameHeader(okStatus(), 0);
  const srv = createServer((s) => {
    s.setNoDelay(true);
    let carry = 0;
    s.on('data', (c: Buffer) => {
      carry += c.length;
      const n = Math.floor(carry / MSG_LEN);
      carry -= n * MSG_LEN;
      for (let i = 0; i < n; i++) s.write(frame);
    });
    s.on('error', () => {});
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return { port: (srv.address() as { port: number }).port, close: () => srv.close() };
}

/** Requests per second with `inFlight` concurrent app.run() calls. */
async function inProcessThroughput(handle: AppHandle, input: Buffer, inFlight: number, count: number): Promise<number> {
  let issued = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (issued++ < count) await handle.run(input);
    }),
  );
  return count / (Number(process.hrtime.bigint() - t0) / 1e9);
}

export async function run(ctx: BenchContext): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'ataru-bench-'));
  const srv = await startServer({ host: '127.0.0.1', controlPort: null, httpPort: null, dataDir, functionRoots: [fixtures] });
  const echo = await echoServer();
  try {
    const app = await srv.deploy(noopDiamond());
    const handle = app.current.handle;
    const input = Buffer.alloc(MSG_LEN, 7);
    const phaseMs = Math.min(4000, ctx.budgetMs / 10);

    // Warm up both paths.
    await timeEach(() => handle.run(input), 500, phaseMs / 4);
    await runLoad({ host: '127.0.0.1', port: app.dataPort.port, input, count: 500, concurrency: 1, window: 1 });

    // The app's own time inside the server, measured around the server's calls.
    const inServer: number[] = [];
    const run = handle.run.bind(handle);
    const timed = (b: Buffer) => {
      const t0 = process.hrtime.bigint();
      return run(b).then((r) => {
        inServer.push(Number(process.hrtime.bigint() - t0));
        return r;
      });
    };
    app.current = { ...app.current, handle: { ...handle, definition: handle.definition, stats: () => handle.stats(), close: () => handle.close(), run: timed } };
    const one = await runLoad({ host: '127.0.0.1', port: app.dataPort.port, input, count: 10_000, concurrency: 1, window: 1 });
    app.current = { ...app.current, handle };
    const base = await runLoad({ host: '127.0.0.1', port: echo.port, input, count: one.count, concurrency: 1, window: 1 });
    const inproc = await timeEach(() => handle.run(input), 10_000, phaseMs);

    const echoP50 = percentile(base.latencyNs, 50);
    const e2eP50 = percentile(one.latencyNs, 50);
    const serverRunP50 = percentile(inServer, 50);
    const inP50 = percentile(inproc, 50);
    printTable(
      'server data port, 4-node no-op diamond, 1 connection, 1 request at a time',
      ['path', 'requests', 'p50', 'p99'],
      [
        ['in-process app.run(), back to back', String(inproc.length), fmtUs(inP50), fmtUs(percentile(inproc, 99))],
        ['data port end to end', String(one.count), fmtUs(e2eP50), fmtUs(percentile(one.latencyNs, 99))],
        ['  of which app.run() inside the server', String(inServer.length), fmtUs(serverRunP50), fmtUs(percentile(inServer, 99))],
        ['frame-echo TCP baseline (loopback + client)', String(base.count), fmtUs(echoP50), fmtUs(percentile(base.latencyNs, 99))],
        ['server overhead (e2e − echo − in-server app.run)', '', fmtUs(e2eP50 - echoP50 - serverRunP50), ''],
        ['e2e − echo − in-process app.run', '', fmtUs(e2eP50 - echoP50 - inP50), ''],
        ['e2e / in-process app.run', '', fmtRatio(e2eP50 / inP50), ''],
      ],
    );

    const rows: string[][] = [];
    const inprocRate = inproc.length / (inproc.reduce((a, b) => a + b, 0) / 1e9);
    rows.push(['in-process app.run(), one at a time', '—', '1', inprocRate.toFixed(0), '']);
    const parallel = await inProcessThroughput(handle, input, 16, 8000);
    rows.push(['in-process app.run(), 16 in flight', '—', '16', parallel.toFixed(0), '']);
    for (const conns of [1, 4, 16]) {
      if (ctx.overBudget(0.8)) break;
      const window = 8;
      const count = 4000 * Math.min(conns, 4);
      const r = await runLoad({ host: '127.0.0.1', port: app.dataPort.port, input, count, concurrency: conns, window });
      const rate = r.count / (r.elapsedNs / 1e9);
      const errors = r.count - (r.statuses.get(okStatus()) ?? 0);
      rows.push([`data port`, String(conns), String(window), rate.toFixed(0), errors ? `${errors} errors` : '']);
    }
    printTable('server data port throughput (requests/s), 2 instances', ['path', 'connections', 'window', 'req/s', 'note'], rows);
  } finally {
    echo.close();
    await srv.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
