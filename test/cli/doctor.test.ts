/**
 * `ataru doctor` as a real process: one line per check, the fix for each
 * failure, exit status 1 exactly when a check that serving needs failed.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import type { CheckResult } from '../../src/doctor/checks.js';
import { kvmStatus } from '../../src/runtime/kvm.js';
import { runCli } from '../helpers/cli.js';
import { withTempDir } from '../helpers/tmp.js';

interface Report {
  ok: boolean;
  checks: CheckResult[];
}

test('doctor --json: every check has a state, every failure a fix, the exit status follows the serve checks', async () => {
  await withTempDir('ataru-doctor-', async (dir) => {
    const r = await runCli(['doctor', '--json', '--data-dir', join(dir, 'data'), '--control-port', '0', '--http-port', '0']);
    const report = JSON.parse(r.stdout) as Report;
    assert.ok(report.checks.length >= 8, r.stdout);
    for (const c of report.checks) {
      assert.ok(['pass', 'warn', 'fail'].includes(c.state), JSON.stringify(c));
      if (c.state !== 'pass') assert.ok(c.fix && c.fix.length > 0, `no fix for ${c.id}`);
    }
    const kvm = report.checks.find((c) => c.id === 'kvm-device')!;
    assert.equal(kvm.state === 'pass', kvmStatus().usable);
    if (kvm.state === 'pass') {
      // With /dev/kvm open, the API version and capabilities were read through native/probe.c.
      assert.ok(report.checks.some((c) => c.id === 'kvm-api'));
      assert.match(report.checks.find((c) => c.id === 'kvm-caps')!.detail, /USER_MEMORY/);
    } else assert.match(kvm.fix!, /kvm/);
    const servable = !report.checks.some((c) => c.serve && c.state === 'fail');
    assert.equal(report.ok, servable);
    assert.equal(r.code, servable ? 0 : 1);
  });
});

test('doctor names a port in use and a data dir that cannot be created, each with its fix, and exits 1', async () => {
  await withTempDir('ataru-doctor-', async (dir) => {
    const holder = createServer();
    await new Promise<void>((res) => holder.listen(0, '127.0.0.1', res));
    const port = (holder.address() as AddressInfo).port;
    const file = join(dir, 'a-file');
    writeFileSync(file, 'not a folder');
    try {
      const r = await runCli(['doctor', '--http-port', String(port), '--control-port', '0', '--data-dir', join(file, 'data')]);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stdout, new RegExp(`FAIL  http port 127\\.0\\.0\\.1:${port} free: in use`));
      assert.match(r.stdout, /fix: .*--http-port N/);
      assert.match(r.stdout, /FAIL  data dir writable: .*a-file is not a folder/);
      assert.match(r.stdout, /cannot serve apps/);
    } finally {
      holder.close();
    }
  });
});
