/**
 * The original wire protocol, byte for byte: a 54,008-byte struct (from the
 * encoder and built by hand at the offsets of docs/original-system.md) or a text definition on
 * the control port, the 2-byte port in network order, fixed-size requests
 * with no replies, and the statistics line after pktcnt requests.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { encodeDefinition } from '../../src/app/index.js';
import { kvmOptions } from '../helpers/kvm.js';
import { randomBytes } from '../helpers/random.js';
import { tempDir } from '../helpers/tmp.js';
import { appDef, connectTo, controlSend, fixturesDir, readUntilClose, startTestServer, type TestServer } from './helpers.js';

const STRUCT_BYTES = 54_008;

/** The struct written field by field at the offsets of docs/original-system.md ("Wire struct"), independent of src/app. */
function handBuiltStruct(o: { name: string; msgLen: number; pktcnt: number; dag: number[]; execs: { path: string; name: string; inp: number; out: number }[]; resultIp?: string; resultPort?: number }): Buffer {
  const b = Buffer.alloc(STRUCT_BYTES);
  b.write(o.name, 0, 'latin1'); // char name[128]
  b.writeInt32LE(o.execs.length, 128); // num_nodes
  b.write('tcp', 132, 'latin1'); // conn_type[32]
  b.writeInt32LE(0, 164); // conn_port: any
  b.writeInt32LE(o.msgLen, 168);
  b.write('127.0.0.1', 172, 'latin1'); // server_ip (unused)
  if (o.resultIp) b.write(o.resultIp, 204, 'latin1');
  b.writeInt32LE(o.resultPort ?? 0, 236);
  b.writeInt32LE(o.pktcnt, 240);
  o.dag.forEach((v, i) => b.writeUInt16LE(v, 244 + 2 * i));
  // exec[0] (shared image) left empty; node k is exec[k+1].
  o.execs.forEach((e, k) => {
    const base = 760 + 208 * (k + 1);
    b.write(e.path, base, 'latin1');
    b.write(e.name, base + 128, 'latin1');
    b.writeBigUInt64LE(BigInt(e.inp), base + 192);
    b.writeBigUInt64LE(BigInt(e.out), base + 200);
  });
  return b;
}

/** The diamond of docs/original-system.md ("DAG encoding"): edges 0→1, 0→2, 1→3, 2→3. */
const DIAMOND_DAG = [0, 1, 1, 2, 0, 2, 3, 4, 4, 1, 2, 3, 3];

function parseStatsLine(buf: Buffer): number[] {
  const text = buf.toString('utf8');
  assert.ok(text.endsWith('\n'), `statistics line ends with a newline: ${JSON.stringify(text)}`);
  assert.equal(text.indexOf('\n'), text.length - 1, 'exactly one line');
  const fields = text.trimEnd().split(' ').map(Number);
  for (const f of fields) assert.ok(Number.isFinite(f), `numeric field in ${text}`);
  return fields;
}

/** Sends `count` fixed-size requests back to back, then reads until the server closes. */
async function sendRequests(port: number, msgLen: number, count: number): Promise<Buffer> {
  const s = await connectTo(port);
  const done = readUntilClose(s);
  const all = Buffer.concat(Array.from({ length: count }, (_, i) => randomBytes(msgLen, i + 1)));
  // Odd-sized writes: requests must be framed by msg_len, not by TCP segments.
  for (let off = 0; off < all.length; off += 1000) s.write(all.subarray(off, off + 1000));
  return done;
}

describe('control port: original protocol', kvmOptions(), () => {
  let srv: TestServer;
  before(async () => {
    srv = await startTestServer({ controlTimeoutMs: 500 });
  });
  after(() => srv.stop());

  test('hand-built binary struct: 2-byte port, fixed-size requests, no replies, statistics line after pktcnt', async () => {
    const pktcnt = 40;
    const struct = handBuiltStruct({
      name: 'handmade',
      msgLen: 100,
      pktcnt,
      dag: DIAMOND_DAG,
      execs: [0, 1, 2, 3].map((k) => ({ path: fixturesDir + '/', name: 'noop.elf', inp: 0, out: 0x10000 * (k + 1) })),
    });
    // The original client writes the struct and waits; it never half-closes.
    const r = await controlSend(srv.controlPort!, struct, false);
    assert.equal(r.error, undefined, r.error);
    assert.equal(r.raw.length, 2, 'the reply is exactly 2 bytes');
    assert.equal(r.port, srv.registry.get('handmade')!.dataPort.port, 'network byte order port of the app');
    assert.equal(srv.registry.get('handmade')!.current.def.reply, 'none', 'binary apps keep the original behaviour');

    const fields = parseStatsLine(await sendRequests(r.port!, 100, pktcnt));
    assert.equal(fields.length, 20 + 7 * 4);
    assert.equal(fields[3], pktcnt, 'field 4: pktcnt');
    assert.equal(fields[4], 100, 'field 5: bytes of the last request');
    assert.equal(fields[7], 4, 'field 8: num_nodes');
    assert.ok(fields[1]! > 0, 'field 2: total time');
    assert.ok(fields[10]! <= fields[11]! && fields[11]! <= fields[12]!, 'warm DAG min <= mean <= max');
    const warmTotal = fields[16]!;
    assert.ok(Math.abs(warmTotal - fields[11]! * (pktcnt - 1)) <= 1e-3 * warmTotal + 0.01, 'warm total = mean × (pktcnt - 1)');
    for (let k = 0; k < 4; k++) {
      const [min, mean, max] = fields.slice(20 + 7 * k, 23 + 7 * k);
      assert.ok(min! <= mean! && mean! <= max!, `node ${k} min <= mean <= max`);
    }
  });

  test('binary struct from the encoder round-trips to the same app; conn_port is honoured', async () => {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const want = (probe.address() as { port: number }).port;
    await new Promise<void>((r) => probe.close(() => r()));

    const def = appDef('encoded', ['add1', 'add1'], [[0, 1]], { conn_port: want, pktcnt: 3, msg_len: 32, instances: 0 });
    const bytes = encodeDefinition(def, 'binary');
    assert.equal(bytes.length, STRUCT_BYTES);
    const r = await controlSend(srv.controlPort!, bytes, false);
    assert.equal(r.port, want);
    const fields = parseStatsLine(await sendRequests(want, 32, 3));
    assert.equal(fields.length, 20 + 7 * 2);
  });

  test('template text ends at the half-close and gets reply frames', async () => {
    const def = appDef('templated', ['uppercase'], [], { msg_len: 16 });
    const r = await controlSend(srv.controlPort!, encodeDefinition(def, 'template'), true);
    assert.equal(r.error, undefined, r.error);
    const s = await connectTo(r.port!);
    const reply = readUntilClose(s);
    s.end('hello, ataru!...');
    const got = await reply;
    assert.equal(got.readUInt32BE(0), 0, 'status ok');
    assert.equal(got.readUInt32BE(4), 16);
    assert.equal(got.subarray(8).toString(), 'HELLO, ATARU!...');
  });

  test('JSON text is accepted too', async () => {
    const r = await controlSend(srv.controlPort!, encodeDefinition(appDef('jsoned', ['noop'], []), 'json'), true);
    assert.equal(r.error, undefined, r.error);
    assert.ok(r.port! > 0);
  });

  test('malformed control messages get one error line and deploy nothing', async () => {
    const before = srv.registry.list().map((a) => a.name).sort();
    const cases: [string, Buffer | string, boolean, RegExp][] = [
      ['garbage text', 'this is not a definition\n', true, /./],
      ['empty', '', true, /empty/],
      ['truncated struct', handBuiltStruct({ name: 'short', msgLen: 8, pktcnt: 0, dag: [0], execs: [{ path: fixturesDir, name: 'noop.elf', inp: 0, out: 0 }] }).subarray(0, 30_000), true, /truncated.*30000 of 54008/],
      ['struct with trailing bytes', Buffer.concat([handBuiltStruct({ name: 'long', msgLen: 8, pktcnt: 0, dag: [0], execs: [{ path: fixturesDir, name: 'noop.elf', inp: 0, out: 0 }] }), Buffer.alloc(10)]), false, /exactly 54008/],
      ['too slow (no half-close)', 'name : slow\n', false, /timed out/],
      ['msg_len over the server limit', encodeDefinition(appDef('huge', ['noop'], [], { msg_len: 3 * 1024 * 1024, shm_size: 4 * 1024 * 1024 }), 'json'), true, /msg_len/],
      ['raw conn_type', encodeDefinition(appDef('rawapp', ['noop'], [], { conn_type: 'raw' }), 'json'), true, /raw/],
      ['result target not allowed', encodeDefinition(appDef('relay', ['noop'], [], { result_ip: '10.9.8.7', result_port: 10988 }), 'json'), true, /10\.9\.8\.7:10988/],
    ];
    for (const [what, bytes, halfClose, pattern] of cases) {
      const r = await controlSend(srv.controlPort!, bytes, halfClose);
      assert.ok(r.error, `${what}: an error line, got ${JSON.stringify(r.raw.toString())}`);
      assert.match(r.error!, pattern, what);
      assert.ok(r.raw.toString().endsWith('\n') && r.raw.toString().split('\n').length === 2, `${what}: one line`);
    }
    assert.deepEqual(srv.registry.list().map((a) => a.name).sort(), before, 'nothing deployed');
  });

  test('functions outside the function roots are refused (absolute, .., symlink)', async () => {
    const outside = tempDir('ataru-outside-');
    copyFileSync(join(fixturesDir, 'noop.elf'), join(outside, 'noop.elf'));
    const inside = tempDir('ataru-root-');
    mkdirSync(join(inside, 'sub'));
    symlinkSync(join(outside, 'noop.elf'), join(inside, 'sub', 'link.elf'));
    writeFileSync(join(inside, 'note.txt'), 'x');
    const roots = await startTestServer({ functionRoots: [inside] });
    try {
      const refs = [
        { path: outside, name: 'noop.elf' },
        { path: join(inside, '..', outside.split('/').pop()!), name: 'noop.elf' },
        { path: 'sub', name: 'link.elf' },
      ];
      for (const ref of refs) {
        const def = appDef('escape', ['noop'], []);
        def.nodes[0]!.function = ref;
        const r = await controlSend(roots.controlPort!, encodeDefinition(def, 'json'), true);
        assert.match(r.error ?? '', /outside the function roots/, JSON.stringify(ref));
      }
      assert.equal(roots.registry.list().length, 0);
    } finally {
      await roots.stop();
      rmSync(outside, { recursive: true, force: true });
      rmSync(inside, { recursive: true, force: true });
    }
  });

  test('pktcnt statistics line also goes to an allowed result target', async () => {
    const lines: Buffer[] = [];
    const sink = createServer((s) => {
      const chunks: Buffer[] = [];
      s.on('data', (c: Buffer) => chunks.push(c));
      s.on('end', () => lines.push(Buffer.concat(chunks)));
    });
    await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
    const sinkPort = (sink.address() as { port: number }).port;
    try {
      const struct = handBuiltStruct({
        name: 'reporter',
        msgLen: 8,
        pktcnt: 5,
        dag: [0, 0, 0],
        execs: [{ path: fixturesDir, name: 'noop.elf', inp: 0, out: 0x10000 }],
        resultIp: '127.0.0.1',
        resultPort: sinkPort,
      });
      const r = await controlSend(srv.controlPort!, struct, false);
      assert.equal(r.error, undefined, r.error);
      const onConn = parseStatsLine(await sendRequests(r.port!, 8, 5));
      for (let i = 0; i < 100 && lines.length === 0; i++) await new Promise((res) => setTimeout(res, 20));
      assert.equal(lines.length, 1, 'one line at the result target');
      assert.deepEqual(parseStatsLine(lines[0]!), onConn);
    } finally {
      sink.close();
    }
  });
});
