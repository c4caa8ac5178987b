import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readTemplate, writeTemplate } from '../../src/app/template.js';
import { describeDag } from '../../src/app/describe.js';
import { resolveFunctionPath } from '../../src/app/resolve.js';
import { fixtureText as fixture } from './fixture-files.js';

const seed = fixture('sobel.template');

test('the seed sobel template parses unchanged into the diamond', () => {
  const def = readTemplate(seed, 'sobel.template');
  assert.equal(def.name, 'sobel_function');
  assert.equal(def.nodes.length, 4);
  assert.deepEqual(describeDag(def), ['0 -> 1', '0 -> 2', '1 -> 3', '2 -> 3']);
  assert.deepEqual(def.shared, { path: '/home/prakhar/data/code/shared_user_code/', name: 'shared_user_code' });
  assert.equal(def.conn_port, 9981);
  assert.equal(def.msg_len, 16384);
  assert.equal(def.server_ip, '10.16.70.246');
  assert.equal(def.result_ip, '10.16.70.240');
  assert.equal(def.result_port, 10988);
  assert.equal(def.pktcnt, 1000);
  for (const node of def.nodes) {
    assert.deepEqual(node.function, { path: '/home/prakhar/data/code/sobel/', name: 'sobel' });
    assert.equal(node.inp_off, 0);
    assert.equal(node.out_off, 65544);
  }
  // Same function on every node: ids are made unique by index.
  assert.deepEqual(
    def.nodes.map((n) => n.id),
    ['sobel_0', 'sobel_1', 'sobel_2', 'sobel_3'],
  );
});

test('the writer reproduces the seed template byte for byte', () => {
  assert.equal(writeTemplate(readTemplate(seed)), seed);
});

test('tabs, separator runs, ; and blank dag separators and comments are read as the original did', () => {
  const def = readTemplate(fixture('chain.template'));
  assert.deepEqual(describeDag(def), ['0 -> 1', '1 -> 2', '2 -> 3', '3 -> 4']);
  const odd = readTemplate(
    [
      '// comment line',
      '   // indented comment',
      '',
      'name::: \t x',
      'num_nodes\t1',
      'msg_len 10\r',
      'dag : 0 ;; 0,,0',
      'exec[1].name:f',
    ].join('\n'),
  );
  assert.equal(odd.name, 'x');
  assert.equal(odd.msg_len, 10);
  assert.deepEqual(odd.edges, []);
  assert.deepEqual(odd.nodes[0].function, { path: '', name: 'f' });
});

test('several parentless nodes are accepted (every root is started)', () => {
  const def = readTemplate(fixture('two-roots.template'));
  assert.deepEqual(describeDag(def), ['0 -> 2', '1 -> 2']);
  assert.equal(def.state, 'keep');
  assert.equal(def.timeout_ms, 250);
});

test('extension keys are read and written back', () => {
  const text = [
    'name : ext',
    'num_nodes : 2',
    'msg_len : 100',
    'dag : 0,1,0,1,1,1',
    'timeout_ms : 20',
    'instances : 3',
    'vcpus : 2',
    'reply : none',
    'state : keep',
    'shm_size : 8192',
    'queue_limit : 7',
    'exec[1].name : a',
    'exec[1].id : first',
    'exec[1].timeout_ms : 5',
    'exec[2].name : b',
    'exec[2].out_off : 8191',
  ].join('\n');
  const def = readTemplate(text);
  assert.deepEqual(
    [def.timeout_ms, def.instances, def.vcpus, def.reply, def.state, def.shm_size, def.queue_limit],
    [20, 3, 2, 'none', 'keep', 8192, 7],
  );
  assert.equal(def.nodes[0].id, 'first');
  assert.equal(def.nodes[0].timeout_ms, 5);
  assert.equal(def.nodes[1].id, 'b');
  assert.deepEqual(readTemplate(writeTemplate(def)), def);
});

test('strings the template cannot hold are refused by the writer, naming the field', () => {
  const def = readTemplate(seed);
  assert.throws(
    () => writeTemplate({ ...def, name: 'has space' }),
    (e: Error) => /^name: the template form cannot hold "has space"/.test(e.message),
  );
});

test('resolveFunctionPath joins folder and file; relative folders are relative to the definition', () => {
  assert.equal(resolveFunctionPath({ path: '/opt/fns/', name: 'f.elf' }, '/defs'), '/opt/fns/f.elf');
  assert.equal(resolveFunctionPath({ path: '/opt/fns', name: 'f.elf' }, '/defs'), '/opt/fns/f.elf');
  assert.equal(resolveFunctionPath({ path: 'build/', name: 'f.elf' }, '/defs/app'), '/defs/app/build/f.elf');
  assert.equal(resolveFunctionPath({ path: '', name: 'f.elf' }, '/defs/app'), '/defs/app/f.elf');
  // The name is the file inside the folder even with a leading '/', as the original's concatenation read it.
  assert.equal(resolveFunctionPath({ path: '/opt/fns', name: '/sub/f.elf' }, '/defs'), '/opt/fns/sub/f.elf');
  assert.equal(resolveFunctionPath({ path: '/opt/fns/', name: 'sub/f.elf' }, '/defs'), '/opt/fns/sub/f.elf');
  assert.equal(resolveFunctionPath({ path: '', name: '/opt/fns/f.elf' }, '/defs'), '/opt/fns/f.elf');
});

test('zero offsets alone say nothing, as in the struct: exec[0] without a file is no shared image; past num_nodes they are ignored', () => {
  const base = 'name : z\nnum_nodes : 1\nmsg_len : 8\ndag : 0,0,0\nexec[1].name : f.elf\n';
  const def = readTemplate(`${base}exec[0].inp_off : 0\nexec[0].out_off : 0\nexec[2].inp_off : 0\nexec[2].out_off : 0\n`, 'z.tmpl');
  assert.equal(def.shared, undefined);
  assert.equal(def.nodes.length, 1);
  // Anything the struct would hold as non-zero bytes still counts.
  assert.throws(() => readTemplate(`${base}exec[2].out_off : 4096\n`, 'z.tmpl'), /exec\[2\]: beyond num_nodes 1/);
  assert.throws(() => readTemplate(`${base}exec[0].path : /opt/\n`, 'z.tmpl'), /exec\[0\]\.name: missing/);
  assert.throws(() => readTemplate(`${base}exec[0].out_off : 8\n`, 'z.tmpl'), /exec\[0\]\.out_off: .*must be 0, found 8/);
});
