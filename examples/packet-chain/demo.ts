/**
 * Runs the packet chain in-process (one VM, through loadApp) on a few
 * packets and prints each verdict and the payload decrypted by Node.
 *
 *   make -C examples/packet-chain && npx tsx examples/packet-chain/demo.ts
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDefinition, resolveFunctionPath } from '../../src/app/index.js';
import { loadApp } from '../../src/runtime/index.js';
import { decrypt, makePacket, PROTO, readReply, VERDICTS, type PacketSpec } from './packet.js';

const here = dirname(fileURLToPath(import.meta.url));
const packets: [string, Omit<PacketSpec, 'nonce'>][] = [
  ['web request', { proto: PROTO.TCP, src: '10.1.2.3', dport: 443, payload: Buffer.from('GET /index.html') }],
  ['telnet', { proto: PROTO.TCP, src: '10.1.2.3', dport: 23, payload: Buffer.from('root') }],
  ['attack', { proto: PROTO.TCP, src: '10.1.2.3', dport: 80, payload: Buffer.from('GET /../etc/passwd') }],
  ['dns query', { proto: PROTO.UDP, src: '10.7.7.7', dport: 53, payload: Buffer.from('example.org') }],
];

const file = join(here, 'packet-chain.tmpl');
const app = await loadApp({ ...parseDefinition(readFileSync(file), { file }), instances: 1 }, {
  resolve: (ref) => resolveFunctionPath(ref, here),
});
try {
  for (const [label, spec] of packets) {
    const { output, dagNs } = await app.run(makePacket({ ...spec, nonce: randomBytes(12) }));
    const r = readReply(output);
    const detail = r.verdict === 0 ? `ciphertext ${r.payload.toString('hex').slice(0, 24)}… → "${decrypt(r)}"` : `rule/signature ${r.match}`;
    console.log(`${label.padEnd(12)} ${VERDICTS[r.verdict].padEnd(15)} ${detail}  (${(dagNs / 1000).toFixed(1)} µs)`);
  }
} finally {
  await app.close();
}
