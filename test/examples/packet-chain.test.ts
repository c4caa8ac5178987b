/**
 * The packet chain in the VM: firewall and IDS verdicts by their tables,
 * and ciphertext that Node's ChaCha20 decrypts to the payload.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { kvmOptions } from '../helpers/kvm.js';
import { loadExample, readExample } from './load.js';
import { cases, checkReply } from './packets.js';

const dir = join(import.meta.dirname, '../../examples/packet-chain');

test('packet-chain.json is the same app as packet-chain.tmpl', () => {
  assert.deepEqual(readExample(join(dir, 'packet-chain.json')), readExample(join(dir, 'packet-chain.tmpl')));
});

test('packet chain in the VM: verdicts and ChaCha20 ciphertext', kvmOptions(), async () => {
  execFileSync('make', ['-s', '-C', dir]);
  const app = await loadExample(join(dir, 'packet-chain.tmpl'));
  try {
    for (const k of cases) {
      const r = await app.run(k.packet);
      assert.equal(r.sinkLengths.length, 1);
      checkReply(k, r.output);
    }
  } finally {
    await app.close();
  }
});
