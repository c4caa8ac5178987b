import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { AtaruError } from '../../src/errors.js';
import { encodeDefinition, parseDefinition } from '../../src/app/index.js';
import { validDefinition } from './arbitrary.js';

const RUNS = 100;

test('property: wire-compatible apps round-trip through template, JSON and binary', () => {
  fc.assert(
    fc.property(validDefinition({ binaryCompatible: true }), (def) => {
      const binary = encodeDefinition(def, 'binary');
      const fromBinary = parseDefinition(binary);
      assert.deepEqual(fromBinary, def);
      assert.ok(encodeDefinition(fromBinary, 'binary').equals(binary));
      const template = encodeDefinition(def, 'template');
      const json = encodeDefinition(def, 'json');
      assert.deepEqual(parseDefinition(template), def);
      assert.deepEqual(parseDefinition(json), def);
      // template -> JSON -> binary lands on the same bytes.
      const viaJson = encodeDefinition(parseDefinition(encodeDefinition(parseDefinition(template), 'json')), 'binary');
      assert.ok(viaJson.equals(binary));
    }),
    { numRuns: RUNS },
  );
});

test('property: apps with extensions round-trip through template and JSON; binary refuses them by name', () => {
  fc.assert(
    fc.property(validDefinition({ binaryCompatible: false }), (def) => {
      assert.deepEqual(parseDefinition(encodeDefinition(def, 'template')), def);
      assert.deepEqual(parseDefinition(encodeDefinition(def, 'json')), def);
      // The wire form either holds the app losslessly or refuses it saying why.
      let binary: Buffer | undefined;
      try {
        binary = encodeDefinition(def, 'binary');
      } catch (e) {
        assert.ok(e instanceof AtaruError);
        assert.match(e.describe(), /the binary form (cannot hold|holds)/);
      }
      if (binary) assert.deepEqual(parseDefinition(binary), def);
    }),
    { numRuns: RUNS },
  );
});

test('property: up to 127 nodes fit the wire form', () => {
  fc.assert(
    fc.property(validDefinition({ binaryCompatible: true, maxNodes: 127 }), (def) => {
      assert.deepEqual(parseDefinition(encodeDefinition(def, 'binary')), def);
    }),
    { numRuns: 15 },
  );
});
