/**
 * The SDK's ataru_snprintf (also behind ataru_log) matches the C library's
 * snprintf for every format the SDK documents, truncation included.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { packageRoot } from '../../src/runtime/paths.js';
import { withTempDir } from '../helpers/tmp.js';

test('ataru_snprintf agrees with libc snprintf', async () => {
  await withTempDir('ataru-format-', async (dir) => {
    const exe = join(dir, 'format_host');
    // The SDK's mem* and str* would replace libc's in a host program: rename them.
    const renames = ['memcpy', 'memmove', 'memset', 'memcmp', 'strlen'].map((n) => `-D${n}=sdk_${n}`);
    const objs = ['mem', 'format'].map((n) => {
      const obj = join(dir, `${n}.o`);
      execFileSync('gcc', [
        '-std=gnu11', '-O1', '-Wall', '-fsanitize=address,undefined', '-fno-sanitize-recover=all',
        '-fno-builtin', '-fno-tree-loop-distribute-patterns', '-c', '-o', obj, ...renames,
        `-I${join(packageRoot, 'sdk', 'include')}`, `-I${join(packageRoot, 'common')}`, join(packageRoot, 'sdk', `${n}.c`),
      ]);
      return obj;
    });
    execFileSync('gcc', [
      '-std=gnu11', '-O1', '-Wno-format', '-fsanitize=address,undefined', '-o', exe,
      join(packageRoot, 'test', 'sdk', 'format_host.c'), ...objs,
    ]);
    const r = spawnSync(exe, { encoding: 'utf8' });
    assert.equal(r.stderr, '');
    assert.match(r.stdout, /^checked 14 bad 0$/m, r.stdout);
    assert.equal(r.status, 0);
  });
});
