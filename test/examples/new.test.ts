/**
 * `ataru new` scaffolds a function that builds as generated and answers in
 * the VM, both through its app template and through its own test script.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { makeProgram } from '../../src/cli/main.js';
import { AtaruError } from '../../src/errors.js';
import { scaffold } from '../../src/cli/commands/new.js';
import { cliArgs } from '../helpers/cli.js';
import { kvmOptions } from '../helpers/kvm.js';
import { tempDir } from '../helpers/tmp.js';
import { loadExample } from './load.js';
import { packageRoot } from '../../src/runtime/paths.js';

const tmp = tempDir('ataru-new-');
after(() => rmSync(tmp, { recursive: true, force: true }));

test('ataru new refuses bad names and non-empty folders', () => {
  assert.throws(() => scaffold('../x', join(tmp, 'bad')), AtaruError);
  scaffold('twice', join(tmp, 'twice'));
  assert.throws(() => scaffold('twice', join(tmp, 'twice')), (e: AtaruError) => e.code === 'CONFLICT');
});

/** The CLI from this source tree as an `ataru` command (the scaffold's Makefile calls $(ATARU)). */
function ataruCommand(): string {
  const ataru = join(tmp, 'ataru');
  writeFileSync(ataru, `#!/bin/sh\nexec "${process.execPath}" ${cliArgs().join(' ')} "$@"\n`, { mode: 0o755 });
  return ataru;
}

test('ataru new: a portable project — no absolute paths, README, .gitignore, a host test that needs no KVM', () => {
  const dir = join(tmp, 'portable');
  const files = scaffold('portable', dir);
  assert.deepEqual(files.map((f) => f.slice(dir.length + 1)).sort(), ['.gitignore', 'Makefile', 'README.md', 'host_test.c', 'portable.c', 'portable.tmpl', 'test.sh']);
  for (const f of files) {
    const text = readFileSync(f, 'utf8');
    assert.doesNotMatch(text, new RegExp(packageRoot.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')), `${f} names this checkout`);
    assert.doesNotMatch(text, new RegExp(tmp), `${f} names its own folder`);
  }
  assert.match(readFileSync(join(dir, '.gitignore'), 'utf8'), /^build\/$/m);
  const out = execFileSync('make', ['-s', '-C', dir, 'build/host_test', `ATARU=${ataruCommand()}`]);
  assert.equal(out.toString(), '');
  assert.equal(execFileSync(join(dir, 'build', 'host_test')).toString(), 'ok: host test\n');
});

test('ataru new: the scaffold builds and answers', kvmOptions(), async () => {
  const dir = join(tmp, 'shout');
  await makeProgram().parseAsync(['node', 'ataru', 'new', 'shout', '--dir', dir]);
  execFileSync('make', ['-s', '-C', dir, `ATARU=${ataruCommand()}`]);

  const app = await loadExample(join(dir, 'shout.tmpl'));
  try {
    const r = await app.run(Buffer.from('hello, ataru'));
    assert.equal(r.output.toString(), 'HELLO, ATARU');
  } finally {
    await app.close();
  }

  // make test: the host test, then the VM test script, with the CLI from this source tree.
  const out = execFileSync('make', ['-s', '-C', dir, 'test', `ATARU=${ataruCommand()}`]);
  assert.match(out.toString(), /^ok: host test\n(.*\n)*ok: HELLO, ATARU/m);
});
