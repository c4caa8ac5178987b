import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AtaruError } from '../../src/errors.js';
import {
  BINARY_SIZE,
  assertValidDefinition,
  definitionFromJson,
  detectForm,
  encodeDefinition,
  parseDefinition,
} from '../../src/app/index.js';
import { fixtureBytes as fixture } from './fixture-files.js';

const seed = parseDefinition(fixture('sobel.template'));

test('the form is detected from the content', () => {
  const binary = encodeDefinition(seed, 'binary');
  assert.equal(detectForm(binary), 'binary');
  assert.equal(detectForm(binary.subarray(0, 1000)), 'binary'); // truncated: still binary, so the size is reported
  assert.equal(detectForm(fixture('fanout.json')), 'json');
  assert.equal(detectForm(Buffer.from('\ufeff  \n{"name": 1}')), 'json');
  assert.equal(detectForm(fixture('sobel.template')), 'template');
  assert.equal(detectForm(Buffer.alloc(BINARY_SIZE, 0x61)), 'binary');
  const paddedJson = Buffer.alloc(BINARY_SIZE, 0x20);
  paddedJson.write('{}', BINARY_SIZE - 2);
  assert.equal(detectForm(paddedJson), 'json');
  assert.throws(() => parseDefinition(binary.subarray(0, 1000)), /expected 54008 bytes, got 1000/);
});

test('a BOM before a template or JSON is ignored', () => {
  const bom = Buffer.from([0xef, 0xbb, 0xbf]);
  assert.deepEqual(parseDefinition(Buffer.concat([bom, fixture('sobel.template')])), seed);
  assert.equal(parseDefinition(Buffer.concat([bom, fixture('fanout.json')])).name, 'fan24');
});

test('text that is not UTF-8 is an error, not mojibake', () => {
  assert.throws(
    () => parseDefinition(Buffer.from([0x6e, 0x61, 0x6d, 0x65, 0x20, 0xff, 0xfe]), { file: 'x' }),
    (e: unknown) => e instanceof AtaruError && e.message === 'expected UTF-8 text' && e.location?.file === 'x',
  );
});

test('an already parsed JSON body reads like JSON text', () => {
  const body = JSON.parse(fixture('fanout.json').toString());
  assert.deepEqual(definitionFromJson(body), parseDefinition(fixture('fanout.json')));
  assert.throws(() => definitionFromJson([]), (e: unknown) => e instanceof AtaruError && e.location?.jsonPath === '$');
});

test('definitions built in code are checked before they are written', () => {
  const bad = { ...seed, msg_len: 0, nodes: seed.nodes.map((n, k) => (k === 2 ? { ...n, out_off: -1 } : n)) };
  assert.throws(() => assertValidDefinition(bad), (e: unknown) => {
    assert.ok(e instanceof AtaruError);
    assert.deepEqual(
      [e, ...e.details].map((d) => d.location?.field),
      ['msg_len', 'exec[3].out_off'],
    );
    return true;
  });
  for (const form of ['template', 'json', 'binary'] as const) {
    assert.throws(() => encodeDefinition(bad, form), /^AtaruError: msg_len: expected a request size/);
  }
});
