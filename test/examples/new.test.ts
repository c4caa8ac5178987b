/**
 * `ataru new` scaffolds a function that builds as generated and answers in
 * the VM, both through its app template and through its own test script.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { makeProgram } from '../../src/cli/main.js';
import { AtaruError } from '../../src/errors.js';
import { scaffold } from '../../src/cli/commands/new.js';
import { kvmOptions } from '../helpers/kvm.js';
import { loadExample } from './load.js';

const tmp = mkdtempSync(join(tmpdir(), 'ataru-new-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const cli = join(import.meta.dirname, '../../src/cli/main.ts');

test('ataru new refuses bad names and non-empty folders', () => {
  assert.throws(() => scaffold('../x', join(tmp, 'bad')), AtaruError);
  scaffold('twice', join(tmp, 'twice'));
  assert.throws(() => scaffold('twice', join(tmp, 'twice')), (e: AtaruError) => e.code === 'CONFLICT');
});

test('ataru new: the scaffold builds and answers', kvmOptions(), async () => {
  const dir = join(tmp, 'shout');
  await makeProgram().parseAsync(['node', 'ataru', 'new', 'shout', '--dir', dir]);
  execFileSync('make', ['-s', '-C', dir]);

  const app = await loadExample(join(dir, 'shout.tmpl'));
  try {
    const r = await app.run(Buffer.from('hello, ataru'));
    assert.equal(r.output.toString(), 'HELLO, ATARU');
  } finally {
    await app.close();
  }

  // Its test script, with the CLI from this source tree.
  const ataru = join(tmp, 'ataru');
  const tsx = import.meta.resolve('tsx'); // absolute: test.sh runs in the scaffold's folder
  writeFileSync(ataru, `#!/bin/sh\nexec node --import ${tsx} -e 'import("${cli}").then((m) => m.main(["node", "ataru", ...process.argv.slice(1)]))' -- "$@"\n`, { mode: 0o755 });
  const out = execFileSync(join(dir, 'test.sh'), { env: { ...process.env, ATARU: ataru } });
  assert.match(out.toString(), /^ok: HELLO, ATARU/);
});
