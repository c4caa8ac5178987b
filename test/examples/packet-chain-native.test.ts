/**
 * The packet chain's C, run natively on the host (examples/packet-chain/
 * host.c): verdicts by the rule and signature tables, and ciphertext that
 * Node's ChaCha20 decrypts. packet-chain.test.ts does the same in the VM.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { cases, checkReply } from './packets.js';

const dir = join(import.meta.dirname, '../../examples/packet-chain');

test('native packet chain: verdicts and ChaCha20 ciphertext', () => {
  execFileSync('make', ['-s', '-C', dir, 'build/host/chain-host']);
  const out = execFileSync(join(dir, 'build/host/chain-host'), { input: Buffer.concat(cases.map((k) => k.packet)) });
  let at = 0;
  for (const k of cases) {
    const len = out.readUInt32LE(at);
    checkReply(k, out.subarray(at + 4, at + 4 + len));
    at += 4 + len;
  }
  assert.equal(at, out.length);
});
