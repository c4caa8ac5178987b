/**
 * A network namespace joined to this one by a veth pair, for the raw-app
 * tests: the host end stays here (a server's --raw-interface), the peer end
 * lives in the namespace, where an independent sender and a capture run as
 * python3 processes over their own AF_PACKET sockets. Needs root (or
 * CAP_NET_ADMIN + CAP_NET_RAW) and the veth module; everything is made here
 * and removed by close().
 */
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

export interface VethNs {
  ns: string;
  /** Host end (in this namespace). */
  host: string;
  hostMac: Buffer;
  hostIp: string;
  hostIndex: number;
  /** Peer end (inside ns). */
  peer: string;
  peerMac: Buffer;
  peerIp: string;
  close(): void;
}

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function mac(text: string): Buffer {
  return Buffer.from(text.trim().replace(/:/g, ''), 'hex');
}

let made = 0;

/** Makes ns + veth pair; `tag` keeps names of parallel test files apart (interface names have 15 characters). */
export function makeVethNs(tag: string, subnet = 213): VethNs {
  const id = `${tag}${process.pid % 10000}${made++}`;
  const ns = `ataru-${id}`;
  const host = `ah${id}`.slice(0, 15);
  const peer = `ap${id}`.slice(0, 15);
  const third = (process.pid + made) % 250;
  const hostIp = `10.${subnet}.${third}.1`;
  const peerIp = `10.${subnet}.${third}.2`;
  const cleanup = () => {
    try {
      ip('link', 'del', host);
    } catch {
      /* already gone with its peer */
    }
    try {
      ip('netns', 'del', ns);
    } catch {
      /* never made */
    }
  };
  try {
    ip('netns', 'add', ns);
    ip('link', 'add', host, 'type', 'veth', 'peer', 'name', peer);
    ip('link', 'set', peer, 'netns', ns);
    ip('addr', 'add', `${hostIp}/24`, 'dev', host);
    ip('link', 'set', host, 'up');
    ip('-n', ns, 'addr', 'add', `${peerIp}/24`, 'dev', peer);
    ip('-n', ns, 'link', 'set', peer, 'up');
    ip('-n', ns, 'link', 'set', 'lo', 'up');
  } catch (e) {
    cleanup();
    const err = e as Error & { stderr?: string };
    throw new Error(`could not make a veth pair in a network namespace (root and the veth module needed): ${err.stderr ?? err.message}`);
  }
  const hostMac = mac(readFileSync(`/sys/class/net/${host}/address`, 'utf8'));
  const hostIndex = Number(readFileSync(`/sys/class/net/${host}/ifindex`, 'utf8'));
  const peerMac = mac(execFileSync('ip', ['netns', 'exec', ns, 'cat', `/sys/class/net/${peer}/address`], { encoding: 'utf8' }));
  return { ns, host, hostMac, hostIp, hostIndex, peer, peerMac, peerIp, close: cleanup };
}

/** Packet sockets bound to an interface index in this namespace (/proc/net/packet). */
export function packetSocketsOn(ifindex: number): number {
  const lines = readFileSync('/proc/net/packet', 'utf8').trim().split('\n').slice(1);
  // columns: sk RefCnt Type Proto Iface R Rmem User Inode
  return lines.filter((l) => Number(l.trim().split(/\s+/)[4]) === ifindex).length;
}

// Sends hex frames (one a line on stdin) in order on one socket, then exits.
// Paced (a frame every 0.5 ms): these tests check what happens to each
// frame, not throughput, and a burst on a loaded machine overflows socket
// buffers (the server's or the capture's), which is the kernel's drop, not
// the app's (bench/ measures bursts).
const SENDER = `
import socket, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((sys.argv[1], 0))
for line in sys.stdin:
    line = line.strip()
    if line:
        s.send(bytes.fromhex(line))
        time.sleep(0.0005)
`;

// Prints, as hex lines, every frame arriving on the interface (not our own
// outgoing ones, nor ICMP: the kernel's port-unreachable replies quote the
// frames sent) that carries the marker; says "ready" once bound; exits
// after the frame carrying the end marker.
const CAPTURE = `
import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.setsockopt(socket.SOL_SOCKET, 33, 8 << 20)  # SO_RCVBUFFORCE (root): past rmem_max
s.bind((sys.argv[1], 0))
marker = bytes.fromhex(sys.argv[2])
end = bytes.fromhex(sys.argv[3])
print("ready", flush=True)
while True:
    f, addr = s.recvfrom(70000)
    if addr[2] == socket.PACKET_OUTGOING or marker not in f or (len(f) > 23 and f[12] == 8 and f[13] == 0 and f[23] == 1):
        continue
    print(f.hex(), flush=True)
    if end in f:
        break
`;

/** Sends frames from inside the namespace, in order; resolves when all are sent. */
export function sendFrames(v: VethNs, frames: Buffer[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn('ip', ['netns', 'exec', v.ns, 'python3', '-c', SENDER, v.peer], { stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (c: Buffer) => (err += c.toString()));
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`frame sender exited with ${code}: ${err}`))));
    p.stdin.end(frames.map((f) => f.toString('hex')).join('\n') + '\n');
  });
}

export interface Capture {
  /** Frames carrying the marker, up to and including the one with the end marker. */
  frames: Promise<Buffer[]>;
  stop(): void;
}

/** Starts a capture inside the namespace; resolves once its socket is bound. */
export async function startCapture(v: VethNs, marker: Buffer, end: Buffer, timeoutMs: number): Promise<Capture> {
  const p: ChildProcessWithoutNullStreams = spawn('ip', ['netns', 'exec', v.ns, 'python3', '-c', CAPTURE, v.peer, marker.toString('hex'), end.toString('hex')]);
  let err = '';
  p.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const got: Buffer[] = [];
  let ready!: () => void;
  const isReady = new Promise<void>((r) => (ready = r));
  createInterface({ input: p.stdout }).on('line', (line) => {
    if (line === 'ready') ready();
    else got.push(Buffer.from(line, 'hex'));
  });
  // A limit only ends a hung capture (the end frame never came); nothing asserts on time.
  const timer = setTimeout(() => p.kill(), timeoutMs);
  const frames = new Promise<Buffer[]>((resolve, reject) => {
    p.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(got);
      else reject(new Error(`capture ended (${code ?? signal}) before the end frame, after ${got.length} frames: ${err}`));
    });
  });
  frames.catch(() => {});
  await Promise.race([isReady, frames]);
  return { frames, stop: () => p.kill() };
}

/** Ethernet + IPv4 + UDP (or TCP) frame; checksums as a kernel would accept (UDP's 0 = none). */
export function ipv4Frame(o: {
  dstMac: Buffer;
  srcMac: Buffer;
  src: string;
  dst: string;
  proto: 'udp' | 'tcp' | 'icmp';
  srcPort: number;
  dstPort: number;
  payload: Buffer;
  fragOffset?: number;
}): Buffer {
  const l4len = o.proto === 'udp' ? 8 : o.proto === 'tcp' ? 20 : 4;
  const l4 = Buffer.alloc(l4len);
  l4.writeUInt16BE(o.srcPort, 0);
  l4.writeUInt16BE(o.dstPort, 2);
  if (o.proto === 'udp') l4.writeUInt16BE(8 + o.payload.length, 4);
  if (o.proto === 'tcp') {
    l4.writeUInt8(5 << 4, 12); // data offset 5 words
    l4.writeUInt8(0x18, 13); // PSH ACK
    l4.writeUInt16BE(65535, 14);
  }
  const iph = Buffer.alloc(20);
  iph[0] = 0x45;
  iph.writeUInt16BE(20 + l4len + o.payload.length, 2);
  iph.writeUInt16BE((o.fragOffset ?? 0) & 0x1fff, 6);
  iph[8] = 64;
  iph[9] = o.proto === 'udp' ? 17 : o.proto === 'tcp' ? 6 : 1;
  Buffer.from(o.src.split('.').map(Number)).copy(iph, 12);
  Buffer.from(o.dst.split('.').map(Number)).copy(iph, 16);
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += iph.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
  iph.writeUInt16BE(~sum & 0xffff, 10);
  return Buffer.concat([o.dstMac, o.srcMac, Buffer.from([0x08, 0x00]), iph, l4, o.payload]);
}
