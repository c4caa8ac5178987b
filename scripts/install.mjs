#!/usr/bin/env node
// npm's install step. In a checkout (test/ is there) it builds everything:
// the native core, the TypeScript, the in-VM runtime, the SDK, the test
// fixtures and the examples. From the published package (built JS shipped,
// no test tree) it builds only what must match this machine: the native
// addon, the in-VM runtime and the SDK. Anywhere but Linux x86-64 it refuses,
// saying why, before compiling anything.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

if (process.platform !== 'linux' || process.arch !== 'x64') {
  process.stderr.write(`ataru: this machine is ${process.platform} ${process.arch}; Ataru runs functions in KVM micro-VMs and needs Linux on x86-64.\n`);
  process.exit(1);
}

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.error) {
    process.stderr.write(`ataru: cannot run ${cmd}: ${r.error.message}${r.error.code === 'ENOENT' ? ` (install ${cmd})` : ''}\n`);
    process.exit(1);
  }
  if (r.status !== 0) process.exit(r.status ?? 1);
}

if (existsSync(join(root, 'test', 'run.ts'))) {
  run('npm', ['run', 'build']);
} else {
  // npm hands its bundled node-gyp to lifecycle scripts.
  const gyp = process.env.npm_config_node_gyp;
  if (gyp) run(process.execPath, [gyp, 'rebuild']);
  else run('node-gyp', ['rebuild']);
  run('make', ['-s', '-C', 'sdk']);
  run('make', ['-s', '-C', 'guest']);
}
