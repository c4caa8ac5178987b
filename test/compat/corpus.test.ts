/**
 * Every definition of the corpus (corpus.ts) deployed through every door —
 * the control port in the binary form (the struct the original's client
 * sent) and the template form, `ataru deploy`, and the HTTP API in the JSON
 * form — into one server, each giving the answers its functions compute.
 * The binary and JSON forms are made by original-client.ts from the
 * template text, not by src/app. Then the refusals that stay, each naming
 * the entry and saying what to do.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { main } from '../../src/cli/main.js';
import { kvmOptions } from '../helpers/kvm.js';
import { randomBytes } from '../helpers/random.js';
import { scaled, scaledTimeout } from '../helpers/scale.js';
import { tempDir } from '../helpers/tmp.js';
import { connectTo, controlSend, readUntilClose, startTestServer, type TestServer } from '../server/helpers.js';
import { corpus, makeFunctionsFolder, template, type CorpusCase } from './corpus.js';
import { readTemplate, toJson, toStruct, uploadKey, type OriginalDefinition } from './original-client.js';

/** The server of a corpus suite: its function root, a folder outside it, and a folder for written definitions. */
async function corpusServer(): Promise<{ srv: TestServer; fns: string; outside: string; defs: string }> {
  const fns = shortDir('acf-');
  makeFunctionsFolder(fns);
  const outside = shortDir('aco-');
  makeFunctionsFolder(outside);
  const defs = tempDir('ataru-compat-defs-');
  return { srv: await startTestServer({ functionRoots: [fns] }), fns, outside, defs };
}

/** A functions folder with a short path: the original's struct holds a name
 * of 63 bytes at most, and some cases put the whole path in it. The emulated
 * KVM machine's temp dir is long (under the checkout), so /tmp there. */
function shortDir(prefix: string): string {
  return mkdtempSync(join(tmpdir().length > 16 ? '/tmp' : tmpdir(), prefix));
}

/** Runs `ataru ...args` in this process (the real CLI program); its stdout and exit code. */
async function cli(...args: string[]): Promise<{ out: string; err: string; code: number }> {
  let out = '';
  let err = '';
  const write = process.stdout.write.bind(process.stdout);
  const errWrite = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((chunk: string | Uint8Array) => ((out += Buffer.from(chunk).toString()), true)) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => ((err += Buffer.from(chunk).toString()), true)) as typeof process.stderr.write;
  const saved = process.exitCode;
  process.exitCode = undefined;
  try {
    await main(['node', 'ataru', ...args]);
    return { out, err, code: process.exitCode ?? 0 };
  } finally {
    process.stdout.write = write;
    process.stderr.write = errWrite;
    process.exitCode = saved;
  }
}

interface Frame {
  status: number;
  body: Buffer;
}

/** Reply frames (u32 status, u32 length, bytes) and whatever follows the last of them. */
function splitFrames(buf: Buffer, count: number): { frames: Frame[]; rest: Buffer } {
  const frames: Frame[] = [];
  let off = 0;
  for (let i = 0; i < count; i++) {
    assert.ok(buf.length >= off + 8, `reply frame ${i} of ${count}: only ${buf.length - off} bytes left`);
    const len = buf.readUInt32BE(off + 4);
    frames.push({ status: buf.readUInt32BE(off), body: buf.subarray(off + 8, off + 8 + len) });
    off += 8 + len;
  }
  return { frames, rest: buf.subarray(off) };
}

/** The statistics line after pktcnt requests: 20 + 7 × num_nodes numbers. */
function checkStatsLine(text: string, c: CorpusCase, nodes: number): void {
  assert.ok(text.endsWith('\n') && text.indexOf('\n') === text.length - 1, `one statistics line: ${JSON.stringify(text.slice(0, 200))}`);
  const fields = text.trimEnd().split(' ').map(Number);
  assert.equal(fields.length, 20 + 7 * nodes);
  assert.ok(fields.every(Number.isFinite), text);
  assert.equal(fields[3], c.pktcnt, 'field 4: pktcnt');
  assert.equal(fields[4], c.msgLen, 'field 5: bytes of the last request');
  assert.equal(fields[7], nodes, 'field 8: num_nodes');
}

/**
 * One connection to the data port: the requests back to back (pktcnt of
 * them when it is set, the connection then ends with the statistics line;
 * otherwise a few, then a half-close). Returns everything the server sent.
 */
async function overDataPort(port: number, inputs: Buffer[]): Promise<Buffer> {
  const s = await connectTo(port);
  const done = readUntilClose(s, scaledTimeout(30_000));
  s.end(Buffer.concat(inputs));
  return done;
}

describe('compatibility corpus: every door, known answers', { ...kvmOptions(), timeout: scaledTimeout(300_000) }, () => {
  let srv: TestServer;
  let fns: string;
  let outside: string;
  let defs: string;
  let api: string;
  const vars = () => ({ FUNCTIONS: fns, OUTSIDE: outside, OUTSIDE_NAME: basename(outside) });

  before(async () => {
    ({ srv, fns, outside, defs } = await corpusServer());
    api = `http://127.0.0.1:${srv.httpPort}`;
  });
  after(async () => {
    await srv?.stop();
    for (const d of [fns, outside, defs]) if (d) rmSync(d, { recursive: true, force: true });
  });

  // The first request is lowercase text (so uppercase is seen to act even with
  // pktcnt 1), the others random bytes.
  const text = (len: number) => Buffer.alloc(len, 'the quick brown fox jumps over the lazy dog; ');
  const inputsFor = (c: CorpusCase, seed: number) =>
    Array.from({ length: c.pktcnt || (c.requests ?? scaled(8, 3)) }, (_, i) => (i === 0 ? text(c.msgLen) : randomBytes(c.msgLen, seed * 1000 + i + 1)));

  /** The deployed app answers every input with c.expect over its data port (reply frames). */
  async function checkFrames(c: CorpusCase, port: number, d: OriginalDefinition, seed: number): Promise<void> {
    const inputs = inputsFor(c, seed);
    const { frames, rest } = splitFrames(await overDataPort(port, inputs), inputs.length);
    frames.forEach((f, i) => {
      assert.equal(f.status, 0, `request ${i}: ${f.body.toString()}`);
      assert.ok(f.body.equals(c.expect(inputs[i]!)), `request ${i}: the answer its functions compute`);
    });
    if (c.pktcnt > 0) checkStatsLine(rest.toString(), c, d.num_nodes);
    else assert.equal(rest.length, 0, 'nothing after the replies');
  }

  /** The same answers through HTTP invoke (the binary form has no reply frames: the original sent none). */
  async function checkInvoke(c: CorpusCase, seed: number): Promise<void> {
    for (const input of inputsFor(c, seed).slice(0, 2)) {
      const r = await fetch(`${api}/apps/${c.app}/invoke`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: new Uint8Array(input) });
      const body = Buffer.from(await r.arrayBuffer());
      assert.equal(r.status, 200, body.toString());
      assert.ok(body.equals(c.expect(input)), 'invoke: the answer its functions compute');
    }
  }

  const portOf = (c: CorpusCase) => srv.registry.get(c.app)?.dataPort.port;

  for (const [i, c] of corpus.entries()) {
    test(`${c.file}: control port, binary struct (as the original client sent it)`, async () => {
      const d = readTemplate(template(c.file, vars()));
      const r = await controlSend(srv.controlPort!, toStruct(d), false, scaledTimeout(30_000));
      assert.equal(r.error, undefined, r.error);
      assert.equal(r.raw.length, 2, 'the reply is the 2-byte port');
      assert.ok(r.port! > 0, 'conn_port 0: a port the kernel picked');
      assert.equal(r.port, portOf(c));
      const before = srv.registry.get(c.app)!.current.handle.stats().requests;
      const inputs = inputsFor(c, i);
      const got = await overDataPort(r.port!, inputs);
      // No reply frames (the original sent none); after pktcnt requests the statistics line.
      if (c.pktcnt > 0) checkStatsLine(got.toString(), c, d.num_nodes);
      else assert.equal(got.length, 0, 'nothing written back');
      assert.equal(srv.registry.get(c.app)!.current.handle.stats().requests - before, inputs.length, 'every request ran');
      await checkInvoke(c, i);
    });

    test(`${c.file}: control port, template text`, async () => {
      const text = template(c.file, vars());
      const binaryDef = srv.registry.get(c.app)!.current.def;
      const r = await controlSend(srv.controlPort!, text, true, scaledTimeout(30_000));
      assert.equal(r.error, undefined, r.error);
      assert.equal(r.port, portOf(c));
      // One meaning: the template reads to the same app as the struct did (but for reply frames).
      assert.deepEqual({ ...srv.registry.get(c.app)!.current.def, reply: 'none' }, binaryDef);
      await checkFrames(c, r.port!, readTemplate(text), i);
    });

    test(`${c.file}: ataru deploy`, async () => {
      const file = join(defs, c.file);
      writeFileSync(file, template(c.file, vars()));
      const r = await cli('deploy', file, '--server', api, '--json');
      assert.equal(r.code, 0, r.out + r.err);
      // The test runner's own report may be written while the CLI runs: take the CLI's JSON object.
      const json = /^\{$[\s\S]*?^\}$/m.exec(r.out)?.[0] ?? r.out;
      const port = (JSON.parse(json) as { port: number }).port;
      assert.equal(port, portOf(c));
      await checkFrames(c, port, readTemplate(template(c.file, vars())), i);
    });

    test(`${c.file}: HTTP API, JSON form`, async () => {
      const d = readTemplate(template(c.file, vars()));
      const files: Record<string, string> = {};
      for (const e of d.exec) if (e.name) files[uploadKey(e)] ??= readFileSync(join(e.path, e.name)).toString('base64');
      // useslib's library, in the folder of the functions that need it.
      if (d.exec.some((e) => e.name.startsWith('useslib'))) files[`${fns}/libhelper.so`] ??= readFileSync(join(fns, 'libhelper.so')).toString('base64');
      const res = await fetch(`${api}/apps`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ definition: JSON.stringify(toJson(d)), files }),
      });
      const body = (await res.json()) as { port?: number; message?: string };
      assert.equal(res.status, 201, JSON.stringify(body));
      assert.equal(body.port, portOf(c));
      await checkFrames(c, body.port!, d, i);
    });
  }
});

/** The refusals that stay, for safety: what each must say, in every form it can arrive in. */
const refusals: { file: string; app: string; says: RegExp[]; doors: ('binary' | 'template' | 'cli' | 'http')[] }[] = [
  // Only the control port reads files by path; the other doors upload them.
  { file: 'refused/outside-roots.tmpl', app: 'outside_roots', says: [/exec\[2\]/, /node 1 \(add1\.elf\)/, /lies outside the function roots/, /start the server with --function-root/], doors: ['binary', 'template'] },
  { file: 'refused/dotdot.tmpl', app: 'dotdot', says: [/exec\[1\]/, /lies outside the function roots/, /--function-root/], doors: ['binary', 'template'] },
  { file: 'refused/shared-outside.tmpl', app: 'shared_outside', says: [/exec\[0\] \(add1\.elf\)/, /lies outside the function roots/, /--function-root/], doors: ['binary', 'template'] },
  { file: 'refused/result-target.tmpl', app: 'result_target', says: [/result_ip/, /10\.16\.70\.240:10988 is not allowed/, /start the server with --result-allow 10\.16\.70\.240/], doors: ['binary', 'template', 'cli', 'http'] },
  { file: 'refused/msg-len-over.tmpl', app: 'msg_len_over', says: [/msg_len/, /at most shm_size \(1\.\.2097152\), found 2097153/], doors: ['binary', 'template', 'cli', 'http'] },
  // raw is served now, on an interface the server was given: this server has none.
  { file: 'refused/raw.tmpl', app: 'raw_frames', says: [/conn_type raw needs an interface/, /start the server with --raw-interface IFACE/], doors: ['binary', 'template', 'cli', 'http'] },
];

describe('compatibility corpus: refusals name the entry and say what to do', { ...kvmOptions(), timeout: scaledTimeout(120_000) }, () => {
  let srv: TestServer;
  let fns: string;
  let outside: string;
  let defs: string;
  before(async () => {
    ({ srv, fns, outside, defs } = await corpusServer());
  });
  after(async () => {
    await srv?.stop();
    for (const d of [fns, outside, defs]) if (d) rmSync(d, { recursive: true, force: true });
  });

  for (const r of refusals) {
    test(`${r.file}: refused through ${r.doors.join(', ')}`, async () => {
      const text = template(r.file, { FUNCTIONS: fns, OUTSIDE: outside, OUTSIDE_NAME: basename(outside) });
      const d = readTemplate(text);
      const errors: [string, string][] = [];
      for (const door of r.doors) {
        if (door === 'binary' || door === 'template') {
          const reply = await controlSend(srv.controlPort!, door === 'binary' ? toStruct(d) : text, door === 'template');
          assert.ok(reply.error, `${door}: an error line, got ${JSON.stringify(reply.raw.toString())}`);
          errors.push([door, reply.error]);
        } else if (door === 'cli') {
          const file = join(defs, basename(r.file));
          writeFileSync(file, text);
          const run = await cli('deploy', file, '--server', `http://127.0.0.1:${srv.httpPort}`);
          assert.equal(run.code, 1, 'ataru deploy exits 1');
          errors.push([door, run.err]);
        } else {
          const files: Record<string, string> = {};
          for (const e of d.exec) if (e.name) files[uploadKey(e)] ??= readFileSync(join(e.path, e.name)).toString('base64');
          const res = await fetch(`http://127.0.0.1:${srv.httpPort}/apps`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ definition: JSON.stringify(toJson(d)), files }),
          });
          assert.ok(res.status === 400 || res.status === 403, `http: refused as the client's fault, got ${res.status}`);
          // The entry is in the message or in its location (a field, or a JSON path into the definition).
          const body = (await res.json()) as { message: string; location?: { field?: string; jsonPath?: string } };
          errors.push([door, `${body.location?.field ?? body.location?.jsonPath ?? ''} ${body.message}`]);
        }
      }
      for (const [door, message] of errors) for (const re of r.says) assert.match(message, re, `${door}: ${message}`);
      assert.equal(srv.registry.get(r.app), undefined, 'nothing deployed');
    });
  }
});
