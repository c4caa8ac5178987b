/**
 * The npm package installs outside the repository: `npm pack`, then
 * `npm install -g` of the tarball into a scratch prefix, preferring npm's
 * cache (the registry only for metadata a fresh cache lacks). The installed
 * `ataru` runs from there: its
 * version, doctor, a new project built with the installed SDK and, with
 * /dev/kvm, that function run in a VM. The tarball holds no tests, bench
 * code or build outputs.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { packageRoot } from '../../src/runtime/paths.js';
import { kvmStatus } from '../../src/runtime/kvm.js';
import { withTempDir } from '../helpers/tmp.js';

const run = promisify(execFile);

test('npm pack → npm install -g (offline) → the installed ataru works outside the repository', { timeout: 900_000 }, async () => {
  await withTempDir('ataru-pack-', async (dir) => {
    const env = { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false', ATARU_LOG_LEVEL: 'silent' };
    const packed = await run('npm', ['pack', '--json', '--pack-destination', dir], { cwd: packageRoot, env, maxBuffer: 64 << 20 });
    const info = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as { filename: string; files: { path: string }[] }[];
    const files = info[0]!.files.map((f) => f.path);
    assert.deepEqual(files.filter((f) => /^(test|bench|dist\/(test|bench))\//.test(f) || /\.(o|elf|so|map)$/.test(f)), []);
    assert.ok(files.includes('dist/src/cli/main.js') && files.includes('scripts/install.mjs') && files.includes('native/probe.c'));

    const prefix = join(dir, 'prefix');
    const tgz = join(dir, info[0]!.filename);
    await run('npm', ['install', '-g', '--prefer-offline', '--allow-scripts=ataru,better-sqlite3', '--prefix', prefix, tgz], { cwd: dir, env, maxBuffer: 64 << 20 });
    const installed = join(prefix, 'lib', 'node_modules', 'ataru');
    assert.ok(!readdirSync(installed).includes('test'));
    const ataru = join(prefix, 'bin', 'ataru');
    const opts = { cwd: dir, env: { ...env, PATH: `${join(prefix, 'bin')}:${process.env.PATH}` } };

    const version = await run(ataru, ['--version'], opts);
    assert.match(version.stdout, /^\d+\.\d+\.\d+\n$/);
    const doctor = await run(ataru, ['doctor', '--json', '--control-port', '0', '--http-port', '0'], opts).catch((e: { stdout: string }) => e);
    const report = JSON.parse(doctor.stdout) as { checks: { id: string; state: string; detail: string }[] };
    const byId = new Map(report.checks.map((c) => [c.id, c]));
    assert.equal(byId.get('runtime')!.state, 'pass', 'the in-VM runtime was built at install');
    assert.ok(byId.get('runtime')!.detail.startsWith(installed));
    assert.equal(byId.get('addon')!.state, 'pass', 'the native addon was built at install');

    await run(ataru, ['new', 'shout', '--dir', join(dir, 'shout')], opts);
    await run('make', ['-s', '-C', join(dir, 'shout')], opts);
    const check = await run(ataru, ['check', join(dir, 'shout', 'shout.tmpl'), '--files'], opts);
    assert.match(check.stdout, /exec\[1\] .*shout\.elf/);
    if (kvmStatus().usable) {
      const child = execFile(ataru, ['run', join(dir, 'shout', 'build', 'shout.elf'), '--input', '-'], opts);
      child.stdin!.end('quiet please');
      let out = '';
      child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
      const code = await new Promise((r) => child.on('exit', r));
      assert.equal(code, 0);
      assert.equal(out, 'QUIET PLEASE');
    }
  });
});
