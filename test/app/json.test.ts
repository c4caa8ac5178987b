import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AtaruError } from '../../src/errors.js';
import { appDefinitionJsonSchema, readJson, writeJson } from '../../src/app/json.js';
import { describeDag } from '../../src/app/describe.js';
import { DEFAULTS } from '../../src/app/model.js';
import { fixtureText as fixture } from './fixture-files.js';


test('named nodes and edges by name; function as a path string or {path, name}; defaults filled', () => {
  const def = readJson(fixture('fanout.json'));
  assert.equal(def.nodes.length, 26);
  assert.deepEqual(def.nodes[0].function, { path: 'bin/', name: 'split.elf' });
  assert.deepEqual(def.nodes[1].function, { path: 'bin/', name: 'worker.elf' });
  assert.equal(def.nodes[25].timeout_ms, 50);
  assert.equal(def.edges.length, 48);
  const lines = describeDag(def);
  assert.equal(lines[0], '0 -> 1');
  assert.equal(lines[47], '24 -> 25');
  assert.equal(def.vcpus, 4);
  assert.equal(def.queue_limit, DEFAULTS.queue_limit);
  assert.equal(def.conn_type, 'tcp');
});

test('edges may use indices, and a bare function name is in the definition folder', () => {
  const def = readJson(
    JSON.stringify({
      name: 'x',
      msg_len: 8,
      nodes: [{ function: 'a.elf' }, { function: 'b.elf' }, { id: 'c', function: '/opt/c.elf' }],
      edges: [
        { from: 1, to: 'c' },
        { from: 'a.elf', to: 1 },
      ],
    }),
  );
  assert.deepEqual(def.nodes[0].function, { path: '', name: 'a.elf' });
  assert.deepEqual(def.nodes[2].function, { path: '/opt/', name: 'c.elf' });
  // Normalized: grouped by parent.
  assert.deepEqual(describeDag(def), ['0 -> 1', '1 -> 2']);
});

test('the normalized JSON form reads back to the same model', () => {
  const def = readJson(fixture('fanout.json'));
  assert.deepEqual(readJson(writeJson(def)), def);
});

const errorOf = (text: string) => {
  try {
    readJson(text, 'app.json');
  } catch (e) {
    assert.ok(e instanceof AtaruError);
    return e;
  }
  assert.fail('expected an AtaruError');
};

test('errors carry JSON paths; edge errors point at the edge as written', () => {
  const base = JSON.parse(fixture('fanout.json'));
  base.nodes[2].function = 42;
  let e = errorOf(JSON.stringify(base));
  assert.equal(e.location?.jsonPath, '$.nodes[2].function');
  assert.match(e.message, /expected a function: .* found 42/);

  const cyc = JSON.parse(fixture('fanout.json'));
  cyc.edges.push({ from: 'join', to: 'split' });
  e = errorOf(JSON.stringify(cyc));
  assert.equal(e.location?.jsonPath, '$.edges[48]');
  assert.match(e.message, /cycle through node/);

  e = errorOf('{"name": "x", "msg_len": 1, "nodes": [{"function": "f"}], "edges": [{"from": "g", "to": "f"}]}');
  assert.equal(e.location?.jsonPath, '$.edges[0].from');
  assert.equal(e.message, "unknown node 'g' (did you mean 'f'?)");

  e = errorOf('{\n  "name": "x",\n  "msg_len": 1,\n  "nodes": [}\n}');
  assert.equal(e.location?.line, 4);
  assert.equal(e.location?.column, 13);
  assert.equal(e.message, "invalid JSON: expected a value, found \"}\"");
});

test('the JSON Schema documents the form (for the OpenAPI document)', () => {
  const schema = appDefinitionJsonSchema as { type: string; required: string[]; properties: Record<string, { description?: string }>; additionalProperties: boolean };
  assert.equal(schema.type, 'object');
  assert.deepEqual([...schema.required].sort(), ['msg_len', 'name', 'nodes']);
  assert.equal(schema.additionalProperties, false);
  assert.ok(schema.properties.edges.description);
  assert.ok(JSON.stringify(schema).includes('"maximum":65535'));
});
