/**
 * The raw-packet path (conn_type raw) against the same app over the TCP data
 * port and against the exit floor, at 64-byte and 1,500-byte frames, all in
 * one run. The app is one node (test/fixtures/functions/pktverdict.c: the
 * frame back with its MAC addresses swapped and its payload flipped). Frames
 * come from a python3 sender in a network namespace of the bench's own,
 * over a veth pair whose host end is the server's raw interface.
 *
 *   raw, one frame at a time   round trip seen by the sender (veth + the
 *                              sender's own python cost included) and the
 *                              engine's host time per frame (submit -> done)
 *   raw, burst                 frames/s the app sent back while the sender
 *                              blasts; its inverse is the per-frame cost,
 *                              set against one in-process DAG run
 *                              back to back, mean (target: ≤ 1.2×)
 *   TCP data port              p50/p99 one request at a time; req/s with a
 *                              window of 32
 *
 * Needs root (namespaces, packet sockets) and ip (iproute2), else says so.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULTS, type AppDefinition } from '../../src/app/model.js';
import { runLoad } from '../../src/client/load.js';
import { App } from '../../src/runtime/app.js';
import { startServer } from '../../src/server/index.js';
import type { RawPort } from '../../src/server/raw-port.js';
import { okStatus } from '../../src/server/reply-frame.js';
import { fixturesBuildDir as fixtures } from '../../test/fixtures/functions/fixtures.js';
import { ipv4Frame, makeVethNs, type VethNs } from '../../test/helpers/netns.js';
import { fmtRatio, fmtUs, median, percentile, printTable, timeEach, type BenchContext } from '../lib.js';

const RAW_PORT = 7411;

function app(name: string, raw: boolean, msgLen: number): AppDefinition {
  return {
    ...DEFAULTS,
    name,
    msg_len: msgLen,
    instances: 1,
    ...(raw ? { conn_type: 'raw', conn_port: RAW_PORT } : {}),
    nodes: [{ id: 'pktverdict', function: { path: fixtures, name: 'pktverdict.elf' }, inp_off: 0, out_off: 0x10000 }],
    edges: [],
  };
}

// pingpong N: N times, send the frame and wait for the app's output (RTT ns
// each). blast N: send N frames back to back (the bench reads the app's own
// counters meanwhile). JSON on stdout.
const SENDER = `
import json, socket, sys, threading, time
iface, mode, n, frame, mark = sys.argv[1], sys.argv[2], int(sys.argv[3]), bytes.fromhex(sys.argv[4]), bytes.fromhex(sys.argv[5])
tx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW); tx.bind((iface, 0))
rx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 << 20); rx.bind((iface, 0)); rx.settimeout(2.0)
def output():
    while True:
        f, a = rx.recvfrom(70000)
        if a[2] != socket.PACKET_OUTGOING and mark in f and f[23] != 1:
            return f
if mode == "pingpong":
    rtt = []
    for _ in range(n):
        t = time.perf_counter_ns(); tx.send(frame); output(); rtt.append(time.perf_counter_ns() - t)
    print(json.dumps({"rtt": rtt}))
else:
    t0 = time.perf_counter_ns()
    for _ in range(n):
        while True:
            try: tx.send(frame); break
            except BlockingIOError: time.sleep(0.0001)
    print(json.dumps({"sent": n, "sendNs": time.perf_counter_ns() - t0}))
`;

function sender(v: VethNs, mode: 'pingpong' | 'blast', n: number, frame: Buffer, mark: Buffer): Promise<Record<string, number | number[]>> {
  return new Promise((resolve, reject) => {
    const p = spawn('ip', ['netns', 'exec', v.ns, 'python3', '-c', SENDER, v.peer, mode, String(n), frame.toString('hex'), mark.toString('hex')]);
    let out = '';
    let err = '';
    p.stdout.on('data', (c: Buffer) => (out += c.toString()));
    p.stderr.on('data', (c: Buffer) => (err += c.toString()));
    p.on('close', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`sender (${mode}) exited ${code}: ${err}`))));
  });
}

export async function run(ctx: BenchContext): Promise<void> {
  if (process.getuid?.() !== 0) {
    console.log('raw-port bench: not run — needs root (a network namespace, a veth pair, packet sockets)');
    return;
  }
  let v: VethNs;
  try {
    v = makeVethNs('b', 214);
  } catch (e) {
    console.log(`raw-port bench: not run — ${(e as Error).message}`);
    return;
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'ataru-bench-raw-'));
  const srv = await startServer({ host: '127.0.0.1', controlPort: null, httpPort: null, dataDir, functionRoots: [fixtures], rawInterface: [v.host] });
  const slice = ctx.budgetMs / 12;
  try {
    const rows: string[][] = [];
    for (const size of [64, 1500]) {
      if (ctx.overBudget(0.7)) break;
      const payload = Buffer.alloc(size - 42, 0x61);
      payload.write('PATRU', 0); // verdict P (forward) + the marker the sender looks for
      const frame = ipv4Frame({ dstMac: v.hostMac, srcMac: v.peerMac, src: v.peerIp, dst: v.hostIp, proto: 'udp', srcPort: 40000, dstPort: RAW_PORT, payload });
      const mark = Buffer.from(Buffer.from('ATRU').map((c) => c ^ 0x20));

      const tcp = await srv.deploy(app(`tcp${size}`, false, size));
      const handle = tcp.current.handle;
      if (!(handle instanceof App)) throw new Error('raw-port bench: the deployed handle is not an App (no exit floor)');
      const floor = await handle.exitFloor(2000);
      await timeEach(() => handle.run(frame), 300, slice / 4);
      const inVm: number[] = [];
      const inproc = await timeEach(async () => inVm.push((await handle.run(frame)).dagNs), 5000, slice);
      const inP50 = median(inproc);
      // Back to back, the mean is what a stream of runs costs each (the
      // burst's per-frame cost is a mean too); the ratios use it.
      const inMean = inproc.reduce((a, b) => a + b, 0) / inproc.length;
      const vs = (ns: number) => `${fmtRatio(ns / inMean)} in-proc mean, ${fmtRatio(ns / floor)} floor`;

      await runLoad({ host: '127.0.0.1', port: tcp.dataPort.port, input: frame, count: 300, concurrency: 1, window: 1 });
      const one = await runLoad({ host: '127.0.0.1', port: tcp.dataPort.port, input: frame, count: 3000, concurrency: 1, window: 1 });
      const many = await runLoad({ host: '127.0.0.1', port: tcp.dataPort.port, input: frame, count: 20_000, concurrency: 1, window: 32 });
      const tcpRate = (many.statuses.get(okStatus()) ?? 0) / (many.elapsedNs / 1e9);
      await srv.registry.remove(tcp.name);

      const raw = await srv.deploy(app(`raw${size}`, true, 1514));
      const rp = raw.dataPort as RawPort;
      await sender(v, 'pingpong', 200, frame, mark); // warm-up
      const c0 = rp.counters()!;
      const pp = (await sender(v, 'pingpong', 2000, frame, mark)).rtt as number[];
      const c1 = rp.counters()!;
      const engineMeanNs = ((c1.run.total - c0.run.total) / (c1.run.count - c0.run.count)) * 1000;
      // The burst's rate from the engine's own counters, sampled while the
      // sender blasts: frames transmitted between the first and the last sample
      // that saw progress.
      const samples: [number, number][] = [];
      const sample = () => samples.push([performance.now(), rp.counters()!.transmitted]);
      const poll = setInterval(sample, 2);
      const blast = await sender(v, 'blast', 20_000, frame, mark);
      const settle = performance.now() + 2000;
      let last = rp.counters()!.transmitted;
      while (performance.now() < settle) {
        await new Promise((r) => setTimeout(r, 50));
        const now = rp.counters()!.transmitted;
        if (now === last) break;
        last = now;
      }
      clearInterval(poll);
      sample();
      const base = samples.find(([, n]) => n > samples[0]![1]) ?? samples[0]!;
      const top = samples.findIndex(([, n]) => n === samples[samples.length - 1]![1]);
      const got = samples[top]![1] - samples[0]![1];
      const rawRate = top >= 0 && samples[top]![0] > base[0] ? (samples[top]![1] - base[1]) / ((samples[top]![0] - base[0]) / 1000) : 0;
      const perFrame = rawRate ? 1e9 / rawRate : NaN;
      const sendRate = (blast.sent as number) / ((blast.sendNs as number) / 1e9);
      await srv.registry.remove(raw.name);

      const t = `${size} B`;
      rows.push(
        [t, 'exit floor (bare exit round trip)', fmtUs(floor), '', '', ''],
        [t, 'in-process app.run(), back to back', fmtUs(inP50), fmtUs(percentile(inproc, 99)), `mean ${fmtUs(inMean)}; in-VM DAG p50 ${fmtUs(median(inVm))}`, ''],
        [t, 'TCP data port, 1 at a time', fmtUs(percentile(one.latencyNs, 50)), fmtUs(percentile(one.latencyNs, 99)), vs(percentile(one.latencyNs, 50)), ''],
        [t, 'TCP data port, window 32', '', '', `${(1e9 / tcpRate / 1000).toFixed(1)} µs/req`, `${tcpRate.toFixed(0)}/s`],
        [t, 'raw, 1 at a time: sender round trip', fmtUs(percentile(pp, 50)), fmtUs(percentile(pp, 99)), vs(percentile(pp, 50)), ''],
        [t, 'raw, 1 at a time: engine host time (mean)', fmtUs(engineMeanNs), '', vs(engineMeanNs), ''],
        [t, `raw, burst (${got}/${blast.sent} back; sender ${sendRate.toFixed(0)}/s)`, '', '', `${fmtUs(perFrame)}/frame = ${vs(perFrame)}`, `${rawRate.toFixed(0)}/s`],
        [t, '  target: per-frame cost ≤ 1.2× in-process run (mean)', '', '', perFrame <= 1.2 * inMean ? 'yes' : 'NO', ''],
      );
    }
    printTable('raw-packet path vs TCP data port vs exit floor (1-node pktverdict, 1 instance)', ['frame', 'path', 'p50', 'p99', 'vs', 'rate'], rows);
    console.log('raw burst: frames the sender sent faster than the app took them were dropped by the kernel (n/sent back); the rate is the app\'s.');
  } finally {
    await srv.close();
    rmSync(dataDir, { recursive: true, force: true });
    v.close();
  }
}
