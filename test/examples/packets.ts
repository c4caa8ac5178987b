/**
 * Packets for the packet-chain tests, built from the format in
 * examples/packet-chain/packet.h, with the verdict each one must get from
 * the rule and signature tables there, and a check of a reply against
 * Node's own ChaCha20.
 */
import assert from 'node:assert/strict';
import { createDecipheriv } from 'node:crypto';

export const PKT_SIZE = 1500;
const HEADER = 32;
const REC_HEADER = 8;
const KEY = Buffer.from('ataru-packet-chain-demo-key-2026');
const NO_MATCH = 0xffff;

export const PASS = 0;
export const DROP_FIREWALL = 1;
export const DROP_IDS = 2;
export const MALFORMED = 3;

interface PacketSpec {
  proto: number;
  src: string;
  dport: number;
  payload: Buffer;
  version?: number;
  payloadLen?: number; // to lie about the length
}

export interface Case {
  name: string;
  packet: Buffer;
  verdict: number;
  match: number;
  matchOffset: number;
}

function ip(s: string): number {
  return s.split('.').reduce((a, b) => a * 256 + Number(b), 0);
}

let nonceSeed = 0;

export function makePacket(p: PacketSpec): Buffer {
  const b = Buffer.alloc(PKT_SIZE);
  b[0] = p.version ?? 1;
  b[1] = p.proto;
  b.writeUInt16BE(p.payloadLen ?? p.payload.length, 2);
  b.writeUInt32BE(ip(p.src), 4);
  b.writeUInt32BE(ip('10.0.0.1'), 8);
  b.writeUInt16BE(40000, 12);
  b.writeUInt16BE(p.dport, 14);
  for (let i = 0; i < 12; i++) b[16 + i] = (nonceSeed * 31 + i * 7) & 0xff;
  nonceSeed++;
  p.payload.copy(b, HEADER);
  return b;
}

const TCP = 6;
const UDP = 17;
const ICMP = 1;
const text = (s: string) => Buffer.from(s, 'latin1');
const noise = (n: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 73 + 11) & 0x7f | 0x20));

function c(name: string, spec: PacketSpec, verdict: number, match = NO_MATCH, matchOffset = 0): Case {
  return { name, packet: makePacket(spec), verdict, match, matchOffset };
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
  c('nop sled at the end', {
    proto: TCP, src: '10.1.2.3', dport: 8443,
    payload: Buffer.concat([noise(1460), Buffer.alloc(8, 0x90)]),
  }, DROP_IDS, 1, 1460),
  c('sql injection', { proto: TCP, src: '10.1.2.3', dport: 80, payload: text("user=x' OR '1'='1") }, DROP_IDS, 2, 6),
  c('two signatures: table order wins', { proto: TCP, src: '10.1.2.3', dport: 80, payload: text('cmd.exe <script>') }, DROP_IDS, 3, 8),
  c('bad version', { proto: TCP, src: '10.1.2.3', dport: 80, payload: text('x'), version: 2 }, MALFORMED),
  c('length past the packet', { proto: TCP, src: '10.1.2.3', dport: 80, payload: text('x'), payloadLen: 1469 }, MALFORMED),
];

/** Checks one reply: verdict, match, and (passed) the decrypted payload. */
export function checkReply(k: Case, reply: Buffer): void {
  assert.equal(reply[0], k.verdict, `${k.name}: verdict`);
  assert.equal(reply.readUInt16LE(2), k.match, `${k.name}: match`);
  assert.equal(reply.readUInt32LE(4), k.matchOffset, `${k.name}: match offset`);
  if (k.verdict === MALFORMED) {
    assert.equal(reply.length, REC_HEADER + HEADER, `${k.name}: length`);
    return;
  }
  const header = k.packet.subarray(0, HEADER);
  assert.ok(reply.subarray(REC_HEADER, REC_HEADER + HEADER).equals(header), `${k.name}: header`);
  if (k.verdict !== PASS) {
    assert.equal(reply.length, REC_HEADER + HEADER, `${k.name}: a dropped packet carries no payload`);
    return;
  }
  const len = k.packet.readUInt16BE(2);
  assert.equal(reply.length, REC_HEADER + HEADER + len, `${k.name}: length`);
  const ciphertext = reply.subarray(REC_HEADER + HEADER);
  // OpenSSL's chacha20 IV: the 32-bit block counter (little-endian, 1), then the nonce.
  const iv = Buffer.concat([Buffer.from([1, 0, 0, 0]), header.subarray(16, 28)]);
  const plain = createDecipheriv('chacha20', KEY, iv).update(ciphertext);
  assert.ok(plain.equals(k.packet.subarray(HEADER, HEADER + len)), `${k.name}: decrypted payload`);
  if (len >= 16) assert.ok(!ciphertext.equals(plain), `${k.name}: payload must be encrypted`);
}
