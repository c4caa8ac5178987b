/**
 * Fuzzing the three readers with random and mutated inputs: each only ever
 * returns a valid model or throws AtaruError BAD_DEFINITION — no other
 * exception, no hang. Runs are bounded (shared CI cores).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { AtaruError } from '../../src/errors.js';
import { encodeDefinition, parseDefinition } from '../../src/app/index.js';
import { validateDefinition } from '../../src/app/validate.js';
import { findJsonSyntaxError } from '../../src/app/json-syntax.js';
import { fixtureBytes as fixture } from './fixture-files.js';

const seedTemplate = fixture('sobel.template');
const seedBinary = encodeDefinition(parseDefinition(seedTemplate), 'binary');
const fanJson = fixture('fanout.json');
const RUNS = 250;
const TIMEOUT = { timeout: 20_000 };

/** The reader's contract on any input. */
function readerContract(bytes: Buffer): void {
  let def;
  try {
    def = parseDefinition(bytes, { file: 'fuzz' });
  } catch (e) {
    assert.ok(e instanceof AtaruError, `not an AtaruError: ${(e as Error)?.stack ?? e}`);
    assert.equal(e.code, 'BAD_DEFINITION');
    assert.ok(e.message.length > 0);
    assert.equal(e.location?.file, 'fuzz');
    return;
  }
  // Whatever is accepted is valid and survives the JSON form.
  assert.deepEqual(validateDefinition(def), []);
  assert.deepEqual(parseDefinition(encodeDefinition(def, 'json')), def);
}

const textMutation = (base: string) =>
  fc
    .array(
      fc.oneof(
        fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), text: fc.string({ maxLength: 8 }) }),
        fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 12 }) }),
        fc.record({ kind: fc.constant('digit' as const), at: fc.nat(), text: fc.constantFrom('0', '9', '-', '65536', '4294967296', ' ', ',', ':') }),
        fc.record({ kind: fc.constant('line' as const), at: fc.nat(), to: fc.nat() }),
      ),
      { minLength: 1, maxLength: 4 },
    )
    .map((ops) => {
      let s = base;
      for (const op of ops) {
        const at = op.at % (s.length + 1);
        if (op.kind === 'insert' || op.kind === 'digit') s = s.slice(0, at) + op.text + s.slice(at);
        else if (op.kind === 'delete') s = s.slice(0, at) + s.slice(at + op.length);
        else {
          // Move a line: duplicates, reorders and drops keys.
          const lines = s.split('\n');
          const [line] = lines.splice(op.at % lines.length, 1);
          lines.splice(op.to % (lines.length + 1), 0, line);
          s = lines.join('\n');
        }
      }
      return s;
    });

test('fuzz: random bytes', TIMEOUT, () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 3000 }), (b) => readerContract(Buffer.from(b))), { numRuns: RUNS });
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 500 }), (s) => readerContract(Buffer.from(s))),
    { numRuns: RUNS },
  );
});

test('fuzz: mutated templates', TIMEOUT, () => {
  fc.assert(fc.property(textMutation(seedTemplate.toString()), (s) => readerContract(Buffer.from(s))), { numRuns: RUNS });
});

test('fuzz: mutated JSON text and JSON values', TIMEOUT, () => {
  fc.assert(fc.property(textMutation(fanJson.toString()), (s) => readerContract(Buffer.from(s))), { numRuns: RUNS });
  const base = JSON.parse(fanJson.toString());
  const paths: (string | number)[][] = [['name'], ['msg_len'], ['nodes'], ['nodes', 3], ['nodes', 3, 'function'], ['nodes', 0, 'out_off'], ['edges'], ['edges', 5], ['edges', 5, 'to'], ['vcpus'], ['shm_size'], []];
  fc.assert(
    fc.property(fc.constantFrom(...paths), fc.jsonValue(), (path, value) => {
      const doc = structuredClone(base);
      if (path.length === 0) return readerContract(Buffer.from(JSON.stringify(value)));
      let parent = doc;
      for (const key of path.slice(0, -1)) parent = parent[key];
      parent[path[path.length - 1]] = value;
      readerContract(Buffer.from(JSON.stringify(doc)));
    }),
    { numRuns: RUNS },
  );
});

test('fuzz: mutated wire structs', TIMEOUT, () => {
  // Mostly in the header, the dag and the used exec entries, where bytes mean something.
  const offset = fc.oneof(fc.nat(760 + 5 * 208), fc.nat(seedBinary.length - 1));
  fc.assert(
    fc.property(fc.array(fc.tuple(offset, fc.nat(255)), { minLength: 1, maxLength: 6 }), (edits) => {
      const buf = Buffer.from(seedBinary);
      for (const [at, value] of edits) buf[at] = value;
      readerContract(buf);
    }),
    { numRuns: RUNS },
  );
  fc.assert(
    fc.property(fc.uint8Array({ minLength: seedBinary.length, maxLength: seedBinary.length }), (b) => readerContract(Buffer.from(b))),
    { numRuns: 20 },
  );
});

test('the JSON syntax scanner agrees with JSON.parse', TIMEOUT, () => {
  const accepts = (s: string) => {
    try {
      JSON.parse(s);
      return true;
    } catch {
      return false;
    }
  };
  const check = (s: string) => assert.equal(findJsonSyntaxError(s) === undefined, accepts(s), JSON.stringify(s));
  fc.assert(fc.property(textMutation(fanJson.toString().slice(0, 400)), check), { numRuns: RUNS });
  fc.assert(fc.property(fc.json(), check), { numRuns: RUNS });
  fc.assert(fc.property(fc.string({ unit: fc.constantFrom(...'{}[]",:0-1.eE+ \\u0ntrufals'.split('')), maxLength: 30 }), check), { numRuns: RUNS * 2 });
  check('['.repeat(100_000));
});

test('huge garbage is rejected quickly with a bounded report', { timeout: 5_000 }, () => {
  const inputs = [
    Array.from({ length: 20_000 }, (_, i) => `key${i} : ${i}`).join('\n'),
    'k'.repeat(1 << 20) + ' : 1',
    `name : x\nnum_nodes : 255\nmsg_len : 1\ndag : ${'7,'.repeat(5000)}`,
    JSON.stringify({ name: 'x', msg_len: 1, nodes: Array.from({ length: 255 }, () => ({ function: 'f', inp_off: -1 })) }),
  ];
  for (const text of inputs) {
    try {
      parseDefinition(Buffer.from(text));
      assert.fail('accepted garbage');
    } catch (e) {
      assert.ok(e instanceof AtaruError);
      assert.ok(e.details.length <= 50, `${e.details.length} details`);
      assert.ok(e.describe().length < 20_000);
    }
  }
});
