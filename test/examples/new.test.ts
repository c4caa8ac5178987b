/**
 * `ataru new` scaffolds a function that builds as generated and answers in
 * the VM, both through its app template and through its own test script.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { makeProgram } from '../../src/cli/main.js';
import { AtaruError } from '../../src/errors.js';
import { scaffold } from '../../src/cli/commands/new.js';
import { cliArgs } from '../helpers/cli.js';
import { kvmOptions } from '../helpers/kvm.js';
import { tempDir } from '../helpers/tmp.js';
import { loadExample } from './load.js';

const tmp = tempDir('ataru-new-');
after(() => rmSync(tmp, { recursive: true, force: true }));

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
  writeFileSync(ataru, `#!/bin/sh\nexec "${process.execPath}" ${cliArgs().join(' ')} "$@"\n`, { mode: 0o755 });
  const out = execFileSync(join(dir, 'test.sh'), { env: { ...process.env, ATARU: ataru } });
  assert.match(out.toString(), /^ok: HELLO, ATARU/);
});
