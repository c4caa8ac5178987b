/**
 * One meaning: for every corpus template, Ataru's reader and struct writer
 * (src/app) give byte for byte the struct that the independent reading of
 * original-client.ts gives, and reading that struct back gives the same app.
 * No KVM: this is the definitions alone.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeDefinition, parseDefinition } from '../../src/app/index.js';
import { corpus, template } from './corpus.js';
import { readTemplate, toStruct } from './original-client.js';

const vars = { FUNCTIONS: '/srv/functions', OUTSIDE: '/srv/elsewhere', OUTSIDE_NAME: 'elsewhere' };
// The refused templates that still read (their refusal is the server's); msg-len-over does not read.
const files = [...corpus.map((c) => c.file), 'refused/outside-roots.tmpl', 'refused/dotdot.tmpl', 'refused/shared-outside.tmpl', 'refused/result-target.tmpl', 'refused/raw.tmpl'];

for (const file of files) {
  test(`${file}: Ataru's reading is the original client's struct`, () => {
    const text = template(file, vars);
    const fromTemplate = parseDefinition(Buffer.from(text), { file });
    const struct = toStruct(readTemplate(text));
    const ours = encodeDefinition(fromTemplate, 'binary');
    const diff = ours.findIndex((b, i) => b !== struct[i]);
    assert.equal(diff, -1, `first differing byte ${diff}`);
    assert.deepEqual(parseDefinition(struct, { file: `${file}.bin` }), fromTemplate);
  });
}

test('msg-len-over: refused by the reader in both forms, naming msg_len', () => {
  const text = template('refused/msg-len-over.tmpl', vars);
  assert.throws(() => parseDefinition(Buffer.from(text), { file: 'msg-len-over.tmpl' }), /msg_len: expected a request size in bytes, at most shm_size \(1\.\.2097152\), found 2097153/);
  assert.throws(() => parseDefinition(toStruct(readTemplate(text)), { file: 'msg-len-over.bin' }), /msg_len: .*found 2097153/);
});
