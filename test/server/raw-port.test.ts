/**
 * Raw-packet apps (conn_type raw) on a real interface: a veth pair whose
 * peer end is in a network namespace of the test's own, where an independent
 * sender (python3, AF_PACKET) sends frames and a capture records what the
 * app transmits. The app is test/fixtures/functions/pktverdict.c: the first
 * payload byte says forward (rewritten), drop (no output) or fault.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createCipheriv } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseDefinition } from '../../src/app/index.js';
import { KEY } from '../../examples/packet-chain/packet.js';
import { probeRawAccess, RawPort } from '../../src/server/raw-port.js';
import { runCli } from '../helpers/cli.js';
import { kvmOptions } from '../helpers/kvm.js';
import { ipv4Frame, makeVethNs, packetSocketsOn, sendFrames, startCapture, type VethNs } from '../helpers/netns.js';
import { randomBytes } from '../helpers/random.js';
import { scaled, scaledTimeout } from '../helpers/scale.js';
import { tempDir } from '../helpers/tmp.js';
import { appDef, controlSend, fixturesDir, startTestServer, type TestServer } from './helpers.js';

const chainDir = fileURLToPath(new URL('../../examples/packet-chain', import.meta.url));
const MARKER = Buffer.from('ATRU');
const END_SEQ = 0xffffffff;
const FLIP = 0x20;
const flip = (b: Buffer) => Buffer.from(b.map((c) => c ^ FLIP));

/** What pktverdict.c answers for a forwarded frame (payload at `payloadAt`). */
function forwarded(frame: Buffer, payloadAt: number): Buffer {
  return Buffer.concat([frame.subarray(6, 12), frame.subarray(0, 6), frame.subarray(12, payloadAt), flip(frame.subarray(payloadAt))]);
}

function payload(verdict: string, seq: number, size: number): Buffer {
  const p = Buffer.alloc(Math.max(size, 9));
  p.write(verdict, 0);
  MARKER.copy(p, 1);
  p.writeUInt32BE(seq >>> 0, 5);
  randomBytes(p.length - 9, seq + 7).copy(p, 9);
  return p;
}

/** Lines of the statistics connection(s) a result target receives. */
function resultListener(): Promise<{ server: Server; port: number; lines: string[] }> {
  const lines: string[] = [];
  const server = createServer((s) => {
    let buf = '';
    s.on('data', (c: Buffer) => {
      buf += c.toString('utf8');
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        lines.push(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as AddressInfo).port, lines })));
}

async function until(what: string, cond: () => boolean, limitMs: number): Promise<void> {
  // A limit only ends a hung wait; nothing asserts on time.
  const stop = Date.now() + limitMs;
  while (!cond()) {
    if (Date.now() > stop) throw new Error(`still waiting for ${what} after ${limitMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('raw apps (conn_type raw) on a veth pair', kvmOptions(), () => {
  let v: VethNs;
  let srv: TestServer;
  let result: Awaited<ReturnType<typeof resultListener>>;
  const PORT = 7301;
  const PKTCNT = 10;
  const MSG_LEN = 256;
  let ran = 0; // frames the app ran (the pktcnt windows count these)

  const udp = (dstPort: number, p: Buffer, srcPort = 40000) =>
    ipv4Frame({ dstMac: v.hostMac, srcMac: v.peerMac, src: v.peerIp, dst: v.hostIp, proto: 'udp', srcPort, dstPort, payload: p });
  const raw = () => srv.registry.get('pkt')!.dataPort as RawPort;

  before(async () => {
    v = makeVethNs('r');
    result = await resultListener();
    execFileSync('make', ['-s', '-C', chainDir]);
    srv = await startTestServer({ rawInterface: [v.host], functionRoots: [chainDir, fixturesDir] });
    await srv.deploy(
      appDef('pkt', ['pktverdict'], [], {
        conn_type: 'raw',
        conn_port: PORT,
        msg_len: MSG_LEN,
        instances: 2,
        pktcnt: PKTCNT,
        result_ip: '127.0.0.1',
        result_port: result.port,
      }),
    );
  });
  after(async () => {
    await srv?.stop();
    v?.close();
    result?.server.close();
  });

  test('only IPv4 UDP/TCP frames to conn_port reach the app; outputs come back bit-exact and in order; empty outputs and faults drop only their frame', { timeout: scaledTimeout(60_000) }, async () => {
    assert.ok(raw() instanceof RawPort);
    const before = raw().counters()!;
    const n = scaled(400, 40);
    const sent: Buffer[] = [];
    const want: Buffer[] = [];
    let drops = 0;
    let faults = 0;
    let matching = 0;
    for (let i = 0; i < n; i++) {
      const verdict = i % 7 === 3 ? 'F' : i % 5 === 1 ? 'D' : 'P';
      const size = 9 + ((i * 37) % 150);
      if (i % 2) {
        // TCP, from a second source (may run on the other instance)
        const f = ipv4Frame({ dstMac: v.hostMac, srcMac: v.peerMac, src: v.peerIp, dst: v.hostIp, proto: 'tcp', srcPort: 40001, dstPort: PORT, payload: payload(verdict, i, size) });
        sent.push(f);
        if (verdict === 'P') want.push(forwarded(f, 14 + 20 + 20));
      } else {
        const f = udp(PORT, payload(verdict, i, size));
        sent.push(f);
        if (verdict === 'P') want.push(forwarded(f, 14 + 20 + 8));
      }
      matching++;
      if (verdict === 'D') drops++;
      if (verdict === 'F') faults++;
      // Traffic the filter must leave to the kernel, each carrying a forward verdict.
      if (i % 10 === 0) {
        const p = payload('P', 1_000_000 + i, 40);
        sent.push(udp(PORT + 1, p)); // another port
        sent.push(ipv4Frame({ dstMac: v.hostMac, srcMac: v.peerMac, src: v.peerIp, dst: v.hostIp, proto: 'tcp', srcPort: 40002, dstPort: PORT - 1, payload: p }));
        sent.push(ipv4Frame({ dstMac: v.hostMac, srcMac: v.peerMac, src: v.peerIp, dst: v.hostIp, proto: 'icmp', srcPort: 0x0800, dstPort: PORT, payload: p })); // ICMP whose bytes 2..3 of the header equal the port
        sent.push(ipv4Frame({ dstMac: v.hostMac, srcMac: v.peerMac, src: v.peerIp, dst: v.hostIp, proto: 'udp', srcPort: 40000, dstPort: PORT, payload: p, fragOffset: 3 })); // a later fragment
        const v6 = Buffer.from(udp(PORT, p));
        v6.writeUInt16BE(0x86dd, 12); // same bytes, EtherType IPv6
        sent.push(v6);
      }
    }
    // One frame over msg_len: taken by the filter, dropped unrun as TOO_LONG.
    sent.push(udp(PORT, payload('P', 2_000_000, MSG_LEN)));
    matching++;
    const end = udp(PORT, payload('P', END_SEQ, 32));
    sent.push(end);
    want.push(forwarded(end, 14 + 20 + 8));
    matching++;

    const endMark = flip(Buffer.concat([MARKER, Buffer.from([0xff, 0xff, 0xff, 0xff])]));
    const cap = await startCapture(v, flip(MARKER), endMark, scaledTimeout(60_000));
    await sendFrames(v, sent);
    const got = await cap.frames;

    assert.equal(got.length, want.length, `${want.length} outputs expected (every forward verdict to conn_port, nothing else), ${got.length} came`);
    got.forEach((g, i) => assert.ok(g.equals(want[i]!), `output ${i} is bit-exact and in order`));
    await until('the counters to settle', () => raw().counters()!.transmitted - before.transmitted === want.length, 10_000);
    const c = raw().counters()!;
    assert.equal(c.received - before.received, matching, 'received: exactly the matching frames');
    assert.equal(c.transmitted - before.transmitted, want.length);
    assert.equal(c.filtered - before.filtered, drops, 'filtered: the empty outputs');
    assert.equal(c.dropped - before.dropped, faults + 1, 'dropped: the faults and the frame over msg_len');
    assert.equal((c.errors.FAULT ?? 0) - (before.errors.FAULT ?? 0), faults, 'faults counted by kind');
    assert.equal((c.errors.TOO_LONG ?? 0) - (before.errors.TOO_LONG ?? 0), 1, 'the long frame counted as TOO_LONG');
    ran += matching - 1;
  });

  test('after every pktcnt frames the statistics line (20 + 7n fields) reaches result_ip:result_port', { timeout: scaledTimeout(30_000) }, async () => {
    assert.ok(ran > PKTCNT, 'the previous test ran frames');
    const windows = Math.floor(ran / PKTCNT);
    await until(`${windows} statistics lines`, () => result.lines.length >= windows, scaledTimeout(20_000));
    assert.equal(raw().counters()!.windows, windows, 'one window per pktcnt frames run');
    assert.equal(result.lines.length, windows, 'one line per window');
    for (const line of result.lines) {
      const f = line.split(' ');
      assert.equal(f.length, 20 + 7 * 1, 'fields');
      assert.ok(f.every((x) => Number.isFinite(Number(x))), `all numbers: ${line}`);
      assert.equal(Number(f[3]), PKTCNT, 'pktcnt field');
      assert.equal(Number(f[7]), 1, 'num_nodes field');
      assert.ok(Number(f[4]) > 42 && Number(f[4]) <= MSG_LEN, 'last frame length');
    }
  });

  test('/metrics and the app detail (ataru stats) carry the packet counters', async () => {
    const c = raw().counters()!;
    const text = await (await fetch(`http://127.0.0.1:${srv.httpPort}/metrics`)).text();
    const metric = (name: string, labels: string) => Number(text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels))?.split(' ').pop());
    assert.equal(metric('ataru_raw_packets_total', 'outcome="received"'), c.received);
    assert.equal(metric('ataru_raw_packets_total', 'outcome="transmitted"'), c.transmitted);
    assert.equal(metric('ataru_raw_packets_total', 'outcome="filtered"'), c.filtered);
    assert.equal(metric('ataru_raw_packets_total', 'outcome="dropped"'), c.dropped);
    assert.equal(metric('ataru_raw_packet_errors_total', 'kind="FAULT"'), c.errors.FAULT);
    assert.equal(metric('ataru_raw_stats_windows_total', 'app="pkt"'), c.windows);
    const detail = (await (await fetch(`http://127.0.0.1:${srv.httpPort}/apps/pkt`)).json()) as { raw?: { iface: string; port: number; received: number; errors: Record<string, number> } };
    assert.equal(detail.raw?.iface, v.host);
    assert.equal(detail.raw?.port, PORT);
    assert.equal(detail.raw?.received, c.received);
    assert.equal(detail.raw?.errors.FAULT, c.errors.FAULT);
  });

  test('the seed template with conn_type : raw deploys and serves', { timeout: scaledTimeout(60_000) }, async () => {
    const port = PORT + 100;
    const text = [
      'name            : seedraw',
      'num_nodes       : 1',
      'conn_type       : raw',
      `conn_port       : ${port}`,
      'msg_len         : 1500',
      'server_ip       : 10.16.70.246',
      'result_ip       : 127.0.0.1',
      `result_port     : ${result.port}`,
      'pktcnt          : 0',
      'dag             : 0,0,0',
      `exec[1].path    : ${fixturesDir}/`,
      'exec[1].name    : pktverdict.elf',
      'exec[1].inp_off : 0',
      'exec[1].out_off : 65536',
      '',
    ].join('\n');
    const r = await controlSend(srv.controlPort!, text, true);
    assert.equal(r.error, undefined, r.error);
    assert.equal(r.port, port, 'the reply names conn_port');
    const frames = Array.from({ length: scaled(20, 4) }, (_, i) => udp(port, payload('P', 3_000_000 + i, 1400), 41000));
    const endFrame = udp(port, payload('P', END_SEQ, 64), 41000);
    const cap = await startCapture(v, flip(MARKER), flip(Buffer.concat([MARKER, Buffer.from([0xff, 0xff, 0xff, 0xff])])), scaledTimeout(60_000));
    await sendFrames(v, [...frames, endFrame]);
    const got = await cap.frames;
    const want = [...frames, endFrame].map((f) => forwarded(f, 42));
    assert.equal(got.length, want.length);
    got.forEach((g, i) => assert.ok(g.equals(want[i]!), `frame ${i} bit-exact`));
    await srv.registry.remove('seedraw');
  });

  test('ataru deploy of a raw template says where its frames come in, not a data port', { timeout: scaledTimeout(60_000) }, async () => {
    const port = PORT + 150;
    const dir = tempDir('ataru-rawdeploy-');
    const file = join(dir, 'rawdeploy.tmpl');
    writeFileSync(
      file,
      [
        'name            : rawdeploy',
        'num_nodes       : 1',
        'conn_type       : raw',
        `conn_port       : ${port}`,
        'msg_len         : 1500',
        'dag             : 0,0,0',
        `exec[1].path    : ${fixturesDir}/`,
        'exec[1].name    : echo.elf',
        'exec[1].inp_off : 0',
        'exec[1].out_off : 65536',
        '',
      ].join('\n'),
    );
    try {
      const server = `http://127.0.0.1:${srv.httpPort}`;
      const human = await runCli(['deploy', file, '--server', server]);
      assert.equal(human.code, 0, human.stderr);
      assert.equal(human.stdout.trim(), `deployed rawdeploy: raw app: frames for port ${port} on ${v.host}`);
      const json = await runCli(['deploy', file, '--server', server, '--json']);
      assert.equal(json.code, 0, json.stderr);
      assert.deepEqual(JSON.parse(json.stdout), { name: 'rawdeploy', port, replaced: true, raw: { iface: v.host, outIface: v.host } });
    } finally {
      await srv.registry.remove('rawdeploy');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('examples/packet-chain as a raw app: firewall and IDS drops send nothing, a passed frame comes back encrypted', { timeout: scaledTimeout(60_000) }, async () => {
    const file = join(chainDir, 'packet-chain-raw.tmpl');
    await srv.deploy(parseDefinition(readFileSync(file), { file }));
    const port = 443;
    let seq = 0;
    const frame = (proto: 'tcp' | 'udp', src: string, body: Buffer, last = false) => {
      const nonce = Buffer.concat([MARKER, Buffer.alloc(4), Buffer.from([1, 2, 3, 4])]);
      nonce.writeUInt32BE(last ? END_SEQ : seq++, 4);
      return ipv4Frame({ dstMac: v.hostMac, srcMac: v.peerMac, src, dst: v.hostIp, proto, srcPort: 40100, dstPort: port, payload: Buffer.concat([nonce, body]) });
    };
    const noise = (n: number, s: number) => Buffer.from(randomBytes(n, s).map((b) => (b & 0x3f) | 0x40)); // no signature bytes
    // [frame, passes?] by the rule and signature tables of examples/packet-chain
    const cases: [Buffer, boolean][] = [
      [frame('tcp', v.peerIp, noise(1000, 1)), true], // default pass
      [frame('udp', v.peerIp, noise(64, 2)), false], // UDP below 1024: firewall rule 5
      [frame('tcp', '192.0.2.77', noise(64, 3)), false], // blocked network: rule 0
      [frame('tcp', v.peerIp, Buffer.from('GET /../etc/passwd HTTP/1.0')), false], // IDS signature 0
      [frame('tcp', v.peerIp, noise(1400, 4)), true],
      [frame('tcp', v.peerIp, Buffer.from('<p><script>x</script>')), false], // IDS signature 3
      [frame('tcp', v.peerIp, Buffer.alloc(0)), true], // an empty payload passes
      [frame('tcp', v.peerIp, noise(20, 5), true), true],
    ];
    const hl = 14 + 20 + 20;
    const expect = (f: Buffer) => {
      const nonce = f.subarray(hl, hl + 12);
      const enc = createCipheriv('chacha20', KEY, Buffer.concat([Buffer.from([1, 0, 0, 0]), nonce])).update(f.subarray(hl + 12));
      return Buffer.concat([f.subarray(6, 12), f.subarray(0, 6), f.subarray(12, hl + 12), enc]);
    };
    const end = Buffer.concat([MARKER, Buffer.from([0xff, 0xff, 0xff, 0xff])]);
    const cap = await startCapture(v, MARKER, end, scaledTimeout(60_000));
    const counters0 = (srv.registry.get('packet_chain_raw')!.dataPort as RawPort).counters()!;
    assert.equal(counters0.received, 0);
    await sendFrames(v, cases.map(([f]) => f));
    const got = await cap.frames;
    const want = cases.filter(([, pass]) => pass).map(([f]) => expect(f));
    assert.equal(got.length, want.length, 'one output per passed frame');
    got.forEach((g, i) => assert.ok(g.equals(want[i]!), `passed frame ${i}: MACs swapped, payload ChaCha20-encrypted, nothing else changed`));
    const c = (srv.registry.get('packet_chain_raw')!.dataPort as RawPort).counters()!;
    assert.equal(c.received, cases.length);
    assert.equal(c.filtered, cases.length - want.length, 'drops are empty outputs');
    assert.equal(c.dropped, 0);
    await srv.registry.remove('packet_chain_raw');
  });

  test('the packet-path instances count in the server-wide caps', async () => {
    const small = await startTestServer({ rawInterface: [v.host], limits: { maxInstances: 3 } });
    try {
      // pool 2 + packet path 2 = 4 > 3: refused before any VM is made
      await assert.rejects(
        small.deploy(appDef('capped', ['pktverdict'], [], { conn_type: 'raw', conn_port: PORT + 200, instances: 2 })),
        (e: Error & { code?: string }) => e.code === 'BUSY' && /instances/.test(e.message),
      );
      assert.equal(small.registry.get('capped'), undefined);
    } finally {
      await small.stop();
    }
  });

  test('a raw app redeploys in place: the new version answers, the old packet path is closed', { timeout: scaledTimeout(60_000) }, async () => {
    const sockets = packetSocketsOn(v.hostIndex);
    // version 2: echo (the frame back unchanged) instead of pktverdict
    await srv.deploy(appDef('pkt', ['echo'], [], { conn_type: 'raw', conn_port: PORT, msg_len: MSG_LEN, instances: 1 }));
    assert.equal(packetSocketsOn(v.hostIndex), sockets, "the old version's sockets closed, the new one's open");
    assert.equal(raw().counters()!.received, 0, 'the new packet path counts from 0');
    const frames = Array.from({ length: scaled(20, 4) }, (_, i) => udp(PORT, payload('P', 4_000_000 + i, 50)));
    const end = udp(PORT, payload('P', END_SEQ, 20));
    const cap = await startCapture(v, MARKER, Buffer.concat([MARKER, Buffer.from([0xff, 0xff, 0xff, 0xff])]), scaledTimeout(60_000));
    await sendFrames(v, [...frames, end]);
    const got = await cap.frames;
    const want = [...frames, end];
    assert.equal(got.length, want.length, 'each frame once (no second socket on the port)');
    got.forEach((g, i) => assert.ok(g.equals(want[i]!), `frame ${i} echoed unchanged by version 2`));
  });

  test('a raw redeploy refused at its checks leaves the running version serving', async () => {
    const sockets = packetSocketsOn(v.hostIndex);
    await assert.rejects(
      srv.deploy(appDef('pkt', ['echo'], [], { conn_type: 'raw', conn_port: PORT, msg_len: MSG_LEN, instances: 1, iface: 'nosuchif0' })),
      (e: Error & { code?: string }) => e.code === 'FORBIDDEN' && /nosuchif0/.test(e.message),
    );
    assert.equal(packetSocketsOn(v.hostIndex), sockets, 'the running version keeps its sockets');
    assert.equal(srv.registry.get('pkt')!.current.def.nodes[0]!.function.name, 'echo.elf');
  });

  test('removing a raw app closes its packet sockets', async () => {
    const open = packetSocketsOn(v.hostIndex);
    assert.ok(open >= 2, `the app's receive and transmit sockets are bound to ${v.host} (${open})`);
    await srv.registry.remove('pkt');
    assert.equal(packetSocketsOn(v.hostIndex), open - 2, 'both closed');
    assert.equal(srv.registry.get('pkt'), undefined);
  });
});

describe('raw apps without CAP_NET_RAW', () => {
  test('a clear error names the privilege', { skip: process.getuid?.() === 0 ? undefined : 'needs root to drop the capability', timeout: scaledTimeout(60_000) }, () => {
    // A child without CAP_NET_RAW (dropped from its bounding set, so root's
    // exec does not get it back) asks for a packet socket on loopback.
    const entry = fileURLToPath(new URL('../helpers/raw-probe-entry.ts', import.meta.url));
    const out = execFileSync('setpriv', ['--bounding-set', '-net_raw', '--inh-caps', '-net_raw', process.execPath, '--import', import.meta.resolve('tsx'), entry, 'lo'], {
      encoding: 'utf8',
      env: { ...process.env, ATARU_LOG_LEVEL: 'silent' },
    });
    const got = JSON.parse(out.trim().split('\n').pop()!) as { code?: string; message?: string; opened?: boolean };
    assert.equal(got.opened, undefined, 'the socket must not open without the capability');
    assert.equal(got.code, 'FORBIDDEN');
    assert.match(got.message!, /raw app "norights" needs root or CAP_NET_RAW/);
    assert.match(got.message!, /"lo"/);
  });
  test('an interface that does not exist is named', () => {
    assert.throws(() => probeRawAccess('noiface', 'nosuchif0'), (e: Error & { code?: string }) => e.code === 'BAD_DEFINITION' && /no network interface "nosuchif0"/.test(e.message));
  });
});
