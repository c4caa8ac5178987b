/**
 * Packets for the packet-chain tests, with the verdict each one must get
 * from the rule and signature tables in examples/packet-chain/*.c, and a
 * check of a reply against Node's own ChaCha20.
 */
import assert from 'node:assert/strict';
import { decrypt, makePacket, NO_MATCH, PKT_HEADER, PROTO, readReply, REC_HEADER, type PacketSpec } from '../../examples/packet-chain/packet.js';

export const PASS = 0;
export const DROP_FIREWALL = 1;
export const DROP_IDS = 2;
export const MALFORMED = 3;

export interface Case {
  name: string;
  packet: Buffer;
  verdict: number;
  match: number;
  matchOffset: number;
}

const { TCP, UDP, ICMP } = PROTO;
const text = (s: string) => Buffer.from(s, 'latin1');
const noise = (n: number) => Buffer.from(Array.from({ length: n }, (_, i) => ((i * 73 + 11) & 0x7f) | 0x20));
let nonces = 0;

function c(name: string, spec: Omit<PacketSpec, 'nonce'>, verdict: number, match = NO_MATCH, matchOffset = 0): Case {
  const n = nonces++;
  const nonce = Buffer.from(Array.from({ length: 12 }, (_, i) => (n * 31 + i * 7) & 0xff));
  return { name, packet: makePacket({ ...spec, nonce }), verdict, match, matchOffset };
}

export const cases: Case[] = [
  c('https, clean', { proto: TCP, src: '10.1.2.3', dport: 443, payload: noise(1000) }, PASS, 3),
  c('dns, clean', { proto: UDP, src: '10.1.2.3', dport: 53, payload: text('www.example.org') }, PASS, 4),
  c('high tcp port: default pass', { proto: TCP, src: '10.9.9.9', dport: 8080, payload: noise(1468) }, PASS),
  c('empty payload', { proto: TCP, src: '10.1.2.3', dport: 80, payload: Buffer.alloc(0) }, PASS, 2),
  c('telnet', { proto: TCP, src: '10.1.2.3', dport: 23, payload: text('login') }, DROP_FIREWALL, 1),
  c('blocked network', { proto: TCP, src: '192.0.2.77', dport: 443, payload: text('hi') }, DROP_FIREWALL, 0),
  c('privileged udp', { proto: UDP, src: '10.1.2.3', dport: 161, payload: text('snmp') }, DROP_FIREWALL, 5),
  c('icmp', { proto: ICMP, src: '10.1.2.3', dport: 0, payload: text('ping') }, DROP_FIREWALL, 6),
  c('http, path traversal', { proto: TCP, src: '10.1.2.3', dport: 80, payload: text('GET /../../etc/passwd HTTP/1.0') }, DROP_IDS, 0, 10),
  c(
    'nop sled at the end',
    { proto: TCP, src: '10.1.2.3', dport: 8443, payload: Buffer.concat([noise(1460), Buffer.alloc(8, 0x90)]) },
    DROP_IDS,
    1,
    1460,
  ),
  c('sql injection', { proto: TCP, src: '10.1.2.3', dport: 80, payload: text("user=x' OR '1'='1") }, DROP_IDS, 2, 6),
  c('two signatures: table order wins', { proto: TCP, src: '10.1.2.3', dport: 80, payload: text('cmd.exe <script>') }, DROP_IDS, 3, 8),
  c('bad version', { proto: TCP, src: '10.1.2.3', dport: 80, payload: text('x'), version: 2 }, MALFORMED),
  c('length past the packet', { proto: TCP, src: '10.1.2.3', dport: 80, payload: text('x'), payloadLen: 1469 }, MALFORMED),
];

/** Checks one reply: verdict, match, header, and (passed) the decrypted payload. */
export function checkReply(k: Case, buf: Buffer): void {
  const r = readReply(buf);
  assert.equal(r.verdict, k.verdict, `${k.name}: verdict`);
  assert.equal(r.match, k.match, `${k.name}: match`);
  assert.equal(r.matchOffset, k.matchOffset, `${k.name}: match offset`);
  if (k.verdict === MALFORMED) {
    assert.equal(buf.length, REC_HEADER + PKT_HEADER, `${k.name}: length`);
    return;
  }
  assert.ok(r.header.equals(k.packet.subarray(0, PKT_HEADER)), `${k.name}: header`);
  if (k.verdict !== PASS) {
    assert.equal(r.payload.length, 0, `${k.name}: a dropped packet carries no payload`);
    return;
  }
  const plain = k.packet.subarray(PKT_HEADER, PKT_HEADER + k.packet.readUInt16BE(2));
  assert.equal(r.payload.length, plain.length, `${k.name}: length`);
  assert.ok(decrypt(r).equals(plain), `${k.name}: decrypted payload`);
  if (plain.length >= 16) assert.ok(!r.payload.equals(plain), `${k.name}: payload must be encrypted`);
}
