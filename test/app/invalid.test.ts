/**
 * A table of invalid definitions, each with the exact problem it must be
 * reported as and where (template line, byte offset or JSON path).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AtaruError, type ErrorLocation } from '../../src/errors.js';
import { encodeDefinition, parseDefinition } from '../../src/app/index.js';
import { fixtureText as fixture } from './fixture-files.js';

const seed = fixture('sobel.template');
const seedLines = seed.trimEnd().split('\n');
const lineOf = (key: string) => seedLines.findIndex((l) => l.startsWith(key + ' ')) + 1;

/** The seed with the line of `key` replaced (or dropped when `line` is undefined). */
const withLine = (key: string, line?: string) =>
  seedLines.flatMap((l) => (l.startsWith(key + ' ') ? (line === undefined ? [] : [line]) : [l])).join('\n');
const withExtra = (...lines: string[]) => [...seedLines, ...lines].join('\n');
const EXTRA = seedLines.length + 1; // line number of the first extra line

/** A two-node app for DAG cases. */
const pair = (dag: string, extra: string[] = []) =>
  ['name : pair', 'num_nodes : 2', 'msg_len : 64', `dag : ${dag}`, 'exec[1].name : a', 'exec[2].name : b', ...extra].join('\n');

const seedBinary = encodeDefinition(parseDefinition(Buffer.from(seed)), 'binary');
const binary = (edit: (b: Buffer) => void) => {
  const b = Buffer.from(seedBinary);
  edit(b);
  return b;
};
const fan = JSON.parse(fixture('fanout.json'));
const json = (edit: (d: typeof fan) => void) => {
  const d = structuredClone(fan);
  edit(d);
  return JSON.stringify(d, null, 2);
};

interface Case {
  name: string;
  input: string | Buffer;
  message: RegExp;
  where: ErrorLocation;
  /** Problems reported in all (default 1). */
  count?: number;
}

const EXEC1_NAME = 760 + 208 + 128;

const cases: Case[] = [
  // ---- template syntax ----
  { name: 'unknown key', input: withLine('msg_len', 'msg_lne : 16384'), message: /^unknown key 'msg_lne' \(did you mean 'msg_len'\?\)$/, where: { line: lineOf('msg_len') }, count: 2 },
  { name: 'unknown exec field', input: withLine('exec[2].name', 'exec[2].nmae : sobel'), message: /^unknown key 'exec\[2\]\.nmae' \(did you mean 'exec\[2\]\.name'\?\)$/, where: { line: lineOf('exec[2].name') }, count: 2 },
  { name: 'unknown key, far from any', input: withExtra('colour : blue'), message: /^unknown key 'colour'$/, where: { line: EXTRA } },
  { name: 'duplicate key', input: withExtra('pktcnt : 5'), message: /^duplicate key 'pktcnt' \(first set on line 9\)$/, where: { line: EXTRA } },
  { name: 'missing msg_len', input: withLine('msg_len'), message: /^msg_len: missing required key/, where: { field: 'msg_len' } },
  { name: 'missing num_nodes', input: withLine('num_nodes'), message: /^num_nodes: missing required key/, where: { field: 'num_nodes' } },
  { name: 'missing dag', input: withLine('dag'), message: /^dag: missing required key/, where: { field: 'dag' } },
  { name: 'missing name', input: withLine('name'), message: /^name: missing required key/, where: { field: 'name' } },
  {
    name: 'missing exec entry',
    input: seedLines.filter((l) => !l.startsWith('exec[3].')).join('\n'),
    message: /^exec\[3\]: missing: node 2 needs exec\[3\]\.name/,
    where: { field: 'exec[3]' },
  },
  { name: 'missing exec name', input: withLine('exec[2].name'), message: /^exec\[2\]\.name: missing required key$/, where: { line: lineOf('exec[2].path') } },
  { name: 'exec beyond num_nodes', input: withExtra('exec[5].name : x'), message: /^exec\[5\]: beyond num_nodes 4: the nodes are exec\[1\.\.4\]$/, where: { line: EXTRA } },
  { name: 'exec index out of range', input: withExtra('exec[256].name : x'), message: /^'exec\[256\]\.name': expected an exec index 0\.\.255, found 256$/, where: { line: EXTRA } },
  { name: 'num_nodes not a number', input: withLine('num_nodes', 'num_nodes : four'), message: /^num_nodes: expected a whole number, found 'four'$/, where: { line: 2 } },
  { name: 'num_nodes zero', input: withLine('num_nodes', 'num_nodes : 0'), message: /^num_nodes: expected a node count \(1\.\.255\), found 0$/, where: { line: 2 } },
  { name: 'decimal number', input: withLine('pktcnt', 'pktcnt : 1.5'), message: /^pktcnt: expected a whole number, found '1\.5'$/, where: { line: 9 } },
  { name: 'port too large', input: withLine('conn_port', 'conn_port : 70000'), message: /^conn_port: expected a port number \(0\.\.65535\), found 70000$/, where: { line: 4 } },
  { name: 'negative port', input: withLine('result_port', 'result_port : -5'), message: /^result_port: expected a port number \(0\.\.65535\), found -5$/, where: { line: 8 } },
  { name: 'msg_len zero', input: withLine('msg_len', 'msg_len : 0'), message: /^msg_len: expected a request size in bytes, at most shm_size \(1\.\.2097152\), found 0$/, where: { line: 5 } },
  { name: 'msg_len past the shared region', input: withLine('msg_len', 'msg_len : 3000000'), message: /^msg_len: .*\(1\.\.2097152\), found 3000000$/, where: { line: 5 } },
  { name: 'offset past the shared region', input: withLine('exec[3].out_off', 'exec[3].out_off : 2097152'), message: /^exec\[3\]\.out_off: expected an offset inside the shared region \(below shm_size\) \(0\.\.2097151\), found 2097152$/, where: { line: lineOf('exec[3].out_off') } },
  { name: 'conn_type', input: withLine('conn_type', 'conn_type : udp'), message: /^conn_type: expected tcp or raw, found 'udp'$/, where: { line: 3 } },
  { name: 'two tokens for a string', input: withLine('name', 'name : two words'), message: /^name: expected one value, found 2: 'two words'$/, where: { line: 1 } },
  { name: 'key without a value', input: withLine('pktcnt', 'pktcnt :'), message: /^pktcnt: expected a value, found nothing$/, where: { line: 9 } },
  { name: 'line without a key', input: withExtra(': 5'), message: /^expected a key, found ': 5'$/, where: { line: EXTRA } },
  { name: 'shared image offset', input: withLine('exec[0].inp_off', 'exec[0].inp_off : 8'), message: /^exec\[0\]\.inp_off: exec\[0\] is the shared code image, not a DAG node: its offsets are unused and must be 0, found 8$/, where: { line: lineOf('exec[0].inp_off') } },
  { name: 'shared image timeout', input: withExtra('exec[0].timeout_ms : 5'), message: /^exec\[0\]\.timeout_ms: exec\[0\] is the shared code image, not a DAG node: it has no timeout_ms$/, where: { line: EXTRA } },
  { name: 'vcpus', input: withExtra('vcpus : 9'), message: /^vcpus: expected a vCPU count \(1\.\.8\), found 9$/, where: { line: EXTRA } },
  { name: 'shm_size not whole pages', input: withExtra('shm_size : 2100000'), message: /^shm_size: expected a multiple of 4096 \(whole pages\), found 2100000$/, where: { line: EXTRA } },
  { name: 'reply mode', input: withExtra('reply : maybe'), message: /^reply: expected frames or none, found 'maybe'$/, where: { line: EXTRA } },
  { name: 'duplicate node ids', input: withExtra('exec[1].id : x', 'exec[2].id : x'), message: /^exec\[2\]\.id: duplicate node id 'x' \(also node 0\)$/, where: { line: EXTRA + 1 } },
  // ---- the dag array ----
  { name: 'dag value not a number', input: withLine('dag', 'dag : 0,1,1,x,0,2,3,4,4,1,2,3,3'), message: /^dag\[3\]: expected a number 0\.\.65535, found 'x'$/, where: { line: 10 } },
  { name: 'dag too short', input: withLine('dag', 'dag : 0,1,1'), message: /^dag: expected at least 9 values for 4 nodes/, where: { line: 10 } },
  { name: 'in-count disagrees', input: withLine('dag', 'dag : 0,1,1,1,0,2,3,4,4,1,2,3,3'), message: /^dag\[3\]: in-count of node 3 is 1, but 2 edges lead to it$/, where: { line: 10 } },
  { name: 'child out of range', input: withLine('dag', 'dag : 0,1,1,1,0,2,3,4,4,1,2,3,7'), message: /^dag\[12\]: child of node 2 is 7, expected a node id 0\.\.3$/, where: { line: 10 } },
  { name: 'offsets decrease', input: withLine('dag', 'dag : 0,1,1,2,0,3,2,4,4,1,2,3,3'), message: /^dag\[6\]: offsets must not decrease: node 2's start offset is 2, below node 1's 3$/, where: { line: 10 } },
  { name: 'end past the child list', input: withLine('dag', 'dag : 0,1,1,2,0,2,3,4,5,1,2,3,3'), message: /^dag\[8\]: the end offset 5 is past the end of the child list: only 4 values follow it$/, where: { line: 10 } },
  { name: 'values after the child list', input: withLine('dag', 'dag : 0,1,1,2,0,2,3,4,4,1,2,3,3,0,7'), message: /^dag\[14\]: expected 13 values \(4 nodes, 4 edges\), found 2 more after the child list; only 0s may follow it$/, where: { line: 10 } },
  { name: 'self loop', input: pair('1,0,0,1,1,0'), message: /^dag\[5\]: self loop on node 0$/, where: { line: 4 } },
  { name: 'duplicate edge', input: pair('0,2,0,2,2,1,1'), message: /^dag\[6\]: duplicate edge 0 -> 1 \(also edge 0\)$/, where: { line: 4 } },
  { name: 'cycle', input: pair('1,1,0,1,2,1,0'), message: /^dag\[6\]: cycle through node 0: 0 -> 1 -> 0$/, where: { line: 4 } },
  // ---- the wire form ----
  { name: 'wire size', input: seedBinary.subarray(1), message: /^expected 54008 bytes, got 54007$/, where: {} },
  { name: 'wire num_nodes', input: binary((b) => b.writeInt32LE(200, 128)), message: /^num_nodes: expected a node count \(1\.\.127 in the binary form\), found 200$/, where: { offset: 128 } },
  { name: 'wire unterminated name', input: binary((b) => b.fill(0x61, 0, 128)), message: /^name: unterminated string: no NUL in its 128 bytes$/, where: { offset: 0 } },
  { name: 'wire empty function name', input: binary((b) => b.fill(0, EXEC1_NAME, EXEC1_NAME + 64)), message: /^exec\[1\]\.name: expected a non-empty string$/, where: { offset: EXEC1_NAME } },
  { name: 'wire conn_type', input: binary((b) => b.write('udp', 132)), message: /^conn_type: expected tcp or raw, found 'udp'$/, where: { offset: 132 } },
  { name: 'wire negative msg_len', input: binary((b) => b.writeInt32LE(-1, 168)), message: /^msg_len: .*found -1$/, where: { offset: 168 } },
  { name: 'wire invalid UTF-8', input: binary((b) => (b[3] = 0xff)), message: /^name: expected UTF-8 text$/, where: { offset: 0 } },
  // ---- JSON ----
  { name: 'json negative offset', input: json((d) => (d.nodes[0].inp_off = -1)), message: /^expected at least 0, found -1$/, where: { jsonPath: '$.nodes[0].inp_off' } },
  { name: 'json no nodes', input: json((d) => ((d.nodes = []), (d.edges = []))), message: /^expected at least 1 entry, found 0$/, where: { jsonPath: '$.nodes' } },
  {
    name: 'json unknown key',
    input: json((d) => ((d.nodes[1].fucntion = d.nodes[1].function), delete d.nodes[1].function)),
    message: /^unknown key 'fucntion' \(did you mean 'function'\?\)$/,
    where: { jsonPath: '$.nodes[1].fucntion' },
    count: 2,
  },
  { name: 'json edge index', input: json((d) => (d.edges[3].to = 99)), message: /^expected a node index 0\.\.25, found 99$/, where: { jsonPath: '$.edges[3].to' } },
  { name: 'json duplicate id', input: json((d) => (d.nodes[2].id = 'w0')), message: /^duplicate node id 'w0' \(also node 1\)$/, where: { jsonPath: '$.nodes[2].id' }, count: 3 },
  { name: 'json offsets past a smaller shm', input: json((d) => (d.shm_size = 8192)), message: /^expected an offset inside the shared region .*found 8192$/, where: { jsonPath: '$.nodes[1].out_off' }, count: 26 },
  { name: 'json msg_len past shm', input: json((d) => (d.msg_len = 3 << 20)), message: /^expected a request size in bytes, at most shm_size \(1\.\.2097152\), found 3145728$/, where: { jsonPath: '$.msg_len' } },
  { name: 'json wrong type', input: json((d) => (d.msg_len = '4096')), message: /^expected a number, found "4096"$/, where: { jsonPath: '$.msg_len' } },
];

test(`${cases.length} invalid definitions are each reported with their message and location`, () => {
  assert.ok(cases.length >= 30);
  for (const c of cases) {
    const input = typeof c.input === 'string' ? Buffer.from(c.input) : c.input;
    let error: AtaruError | undefined;
    try {
      parseDefinition(input, { file: 'app.def' });
    } catch (e) {
      assert.ok(e instanceof AtaruError, `${c.name}: ${e}`);
      error = e;
    }
    assert.ok(error, `${c.name}: accepted`);
    assert.equal(error.code, 'BAD_DEFINITION');
    const all = [error, ...error.details];
    const hit = all.find((e) => c.message.test(e.message));
    assert.ok(hit, `${c.name}: no problem matches ${c.message}; got:\n${error.describe()}`);
    assert.equal(hit.location?.file, 'app.def', c.name);
    for (const [k, v] of Object.entries(c.where)) {
      assert.equal(hit.location?.[k as keyof ErrorLocation], v, `${c.name}: location.${k}\n${error.describe()}`);
    }
    assert.equal(all.length, c.count ?? 1, `${c.name}: problem count\n${error.describe()}`);
  }
});
