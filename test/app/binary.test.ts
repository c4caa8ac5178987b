import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AtaruError } from '../../src/errors.js';
import { BINARY_SIZE, LAYOUT, decodeBinary, encodeBinary } from '../../src/app/binary.js';
import { readTemplate } from '../../src/app/template.js';
import { DEFAULTS } from '../../src/app/model.js';
import { fixtureText } from './fixture-files.js';

const seed = readTemplate(fixtureText('sobel.template'));

const cString = (buf: Buffer, offset: number, size: number) => {
  const field = buf.subarray(offset, offset + size);
  return field.subarray(0, field.indexOf(0)).toString();
};

test('the seed app encodes to the 54,008-byte struct at the documented offsets', () => {
  const buf = encodeBinary(seed);
  assert.equal(buf.length, BINARY_SIZE);
  assert.equal(cString(buf, 0, 128), 'sobel_function');
  assert.equal(buf.readInt32LE(128), 4);
  assert.equal(cString(buf, 132, 32), 'tcp');
  assert.equal(buf.readInt32LE(164), 9981);
  assert.equal(buf.readInt32LE(168), 16384);
  assert.equal(cString(buf, 172, 32), '10.16.70.246');
  assert.equal(cString(buf, 204, 32), '10.16.70.240');
  assert.equal(buf.readInt32LE(236), 10988);
  assert.equal(buf.readInt32LE(240), 1000);
  const dag = Array.from({ length: 13 }, (_, j) => buf.readUInt16LE(244 + 2 * j));
  assert.deepEqual(dag, [0, 1, 1, 2, 0, 2, 3, 4, 4, 1, 2, 3, 3]);
  assert.equal(buf.readUInt32LE(756), 0);
  assert.equal(cString(buf, 760, 128), '/home/prakhar/data/code/shared_user_code/');
  assert.equal(cString(buf, 760 + 128, 64), 'shared_user_code');
  const exec4 = 760 + 4 * 208;
  assert.equal(cString(buf, exec4, 128), '/home/prakhar/data/code/sobel/');
  assert.equal(cString(buf, exec4 + 128, 64), 'sobel');
  assert.equal(buf.readBigUInt64LE(exec4 + 192), 0n);
  assert.equal(buf.readBigUInt64LE(exec4 + 200), 65544n);
  assert.ok(buf.subarray(760 + 5 * 208).every((b) => b === 0));
  assert.equal(LAYOUT.exec.offset + LAYOUT.exec.size, BINARY_SIZE);
});

test('decode(encode(seed)) is the seed and encode(decode(x)) is x', () => {
  const buf = encodeBinary(seed);
  const def = decodeBinary(buf);
  assert.deepEqual(def, seed);
  assert.ok(encodeBinary(def).equals(buf));
});

const problemOf = (buf: Buffer) => {
  try {
    decodeBinary(buf, 'app.bin');
  } catch (e) {
    assert.ok(e instanceof AtaruError);
    assert.equal(e.code, 'BAD_DEFINITION');
    return e;
  }
  assert.fail('expected an AtaruError');
};

test('a wrong size is reported with both sizes', () => {
  const e = problemOf(Buffer.alloc(1000));
  assert.equal(e.message, 'expected 54008 bytes, got 1000');
  assert.equal(e.location?.file, 'app.bin');
});

test('each problem names its byte offset and field; all are reported at once', () => {
  const buf = encodeBinary(seed);
  buf.writeInt32LE(-5, 164); // conn_port
  buf.fill(0x41, 172, 204); // server_ip without NUL
  buf[758] = 1; // padding
  buf.writeBigUInt64LE(3n * 1024n * 1024n, 760 + 2 * 208 + 200); // exec[2].out_off past shm
  const e = problemOf(buf);
  const all = [e.message, ...e.details.slice(0).map((d) => d.message)];
  assert.deepEqual(
    [e, ...e.details].map((d) => d.location?.offset),
    [164, 172, 758, 760 + 2 * 208 + 200],
  );
  assert.match(all[0], /^conn_port: expected a port number \(0\.\.65535\), found -5$/);
  assert.match(all[1], /^server_ip: unterminated string: no NUL in its 32 bytes$/);
  assert.match(all[2], /^padding: expected 0/);
  assert.match(all[3], /^exec\[2\]\.out_off: expected an offset inside the shared region .*found 3145728$/);
  assert.match(e.describe(), /^app\.bin, byte 164: conn_port/);
});

test('bytes after a string NUL, stray dag entries and unused exec entries must be zero', () => {
  const cases: [number, RegExp][] = [
    [20, /^name: expected 0 after the string's NUL \(byte 14\), found 0x01$/],
    [244 + 2 * 20, /^dag\[20\]: expected 0 after the child list/],
    [760 + 9 * 208 + 5, /^exec\[9\]: beyond num_nodes 4, so its bytes must be 0/],
  ];
  for (const [offset, message] of cases) {
    const buf = encodeBinary(seed);
    buf[offset] = 1;
    const e = problemOf(buf);
    assert.match(e.message, message);
    assert.equal(e.location?.offset, offset);
  }
});

test('defs the wire form cannot hold are refused with the reason', () => {
  const withExtension = { ...seed, timeout_ms: 5 };
  assert.throws(() => encodeBinary(withExtension), /timeout_ms: the binary form cannot hold timeout_ms 5 \(only the default, 1000\)/);
  const withId = { ...seed, nodes: seed.nodes.map((n, k) => (k === 1 ? { ...n, id: 'gx' } : n)) };
  assert.throws(() => encodeBinary(withId), /exec\[2\]\.id: the binary form cannot hold node id 'gx'/);
  const many = {
    ...seed,
    nodes: Array.from({ length: 128 }, (_, k) => ({ ...seed.nodes[0], id: `sobel_${k}` })),
    edges: [],
  };
  assert.throws(() => encodeBinary(many), /num_nodes: the binary form holds at most 127 nodes, found 128/);
  const longName = { ...seed, name: 'x'.repeat(128) };
  assert.throws(() => encodeBinary(longName), /name: the binary form holds 127 bytes here, found 128/);
  // Extensions at their defaults are fine.
  assert.equal(encodeBinary({ ...seed, timeout_ms: DEFAULTS.timeout_ms }).length, BINARY_SIZE);
});
