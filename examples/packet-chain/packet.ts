/**
 * The packet chain's formats on the TypeScript side (the C side is
 * packet.h): building request packets and reading replies.
 */
import { createDecipheriv } from 'node:crypto';

export const PKT_SIZE = 1500;
export const PKT_HEADER = 32;
export const REC_HEADER = 8;
export const NO_MATCH = 0xffff;
export const PROTO = { ICMP: 1, TCP: 6, UDP: 17 } as const;
export const VERDICTS = ['pass', 'drop: firewall', 'drop: IDS', 'malformed'] as const;
/** The chain's demo key (encrypt.c). */
export const KEY = Buffer.from('ataru-packet-chain-demo-key-2026');

export interface PacketSpec {
  proto: number;
  src: string; // dotted IPv4
  dst?: string;
  sport?: number;
  dport: number;
  nonce: Buffer; // 12 bytes
  payload: Buffer;
  version?: number;
  /** Overrides the header's payload_len (to build malformed packets). */
  payloadLen?: number;
}

export interface Reply {
  verdict: number;
  match: number;
  matchOffset: number;
  header: Buffer;
  /** The ciphertext of a passed packet; empty when dropped. */
  payload: Buffer;
}

const ipv4 = (s: string) => s.split('.').reduce((a, b) => a * 256 + Number(b), 0);

export function makePacket(p: PacketSpec): Buffer {
  const b = Buffer.alloc(PKT_SIZE);
  b[0] = p.version ?? 1;
  b[1] = p.proto;
  b.writeUInt16BE(p.payloadLen ?? p.payload.length, 2);
  b.writeUInt32BE(ipv4(p.src), 4);
  b.writeUInt32BE(ipv4(p.dst ?? '10.0.0.1'), 8);
  b.writeUInt16BE(p.sport ?? 40000, 12);
  b.writeUInt16BE(p.dport, 14);
  p.nonce.copy(b, 16, 0, 12);
  p.payload.copy(b, PKT_HEADER);
  return b;
}

export function readReply(buf: Buffer): Reply {
  return {
    verdict: buf[0],
    match: buf.readUInt16LE(2),
    matchOffset: buf.readUInt32LE(4),
    header: buf.subarray(REC_HEADER, REC_HEADER + PKT_HEADER),
    payload: buf.subarray(REC_HEADER + PKT_HEADER),
  };
}

/** The plaintext of a passed packet's reply, by Node's own ChaCha20. */
export function decrypt(reply: Reply): Buffer {
  // OpenSSL's chacha20 IV: the 32-bit block counter (little-endian, 1), then the nonce.
  const iv = Buffer.concat([Buffer.from([1, 0, 0, 0]), reply.header.subarray(16, 28)]);
  return createDecipheriv('chacha20', KEY, iv).update(reply.payload);
}
