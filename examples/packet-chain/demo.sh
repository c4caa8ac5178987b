#!/usr/bin/env bash
# examples/packet-chain/demo.sh — the packet chain as a raw app on a real
# interface. Makes a network namespace joined to this one by a veth pair,
# starts `ataru serve --raw-interface` on the host end (loopback ports, a
# temporary data dir), deploys packet-chain-raw.tmpl, then, from inside the
# namespace, sends labelled frames one at a time (each verdict shown) and a
# burst of mixed traffic (throughput shown), and prints `ataru stats`.
# Everything it makes is removed on exit.
#
#   sudo examples/packet-chain/demo.sh [burst frames, default 20000]
#
# Needs root (namespaces, packet sockets), ip (iproute2), python3, the veth
# module, /dev/kvm, and a built checkout (npm ci && npm run build).
set -euo pipefail
cd "$(dirname "$0")/../.."
BURST=${1:-20000}
HTTP=${ATARU_DEMO_HTTP_PORT:-19990}
[[ $(id -u) == 0 ]] || { echo "demo.sh: run as root (network namespaces and packet sockets)" >&2; exit 1; }
[[ -f dist/src/cli/main.js ]] || { echo "demo.sh: build first: npm ci && npm run build" >&2; exit 1; }
make -s -C examples/packet-chain

NS=ataru-demo-$$
HOST=adh$$
PEER=adp$$
DATA=$(mktemp -d)
SRV=
cleanup() {
  [[ -n $SRV ]] && kill "$SRV" 2>/dev/null && wait "$SRV" 2>/dev/null
  ip link del "$HOST" 2>/dev/null || true
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "$DATA"
}
trap cleanup EXIT

ip netns add "$NS"
ip link add "$HOST" type veth peer name "$PEER"
ip link set "$PEER" netns "$NS"
ip addr add 10.231.0.1/24 dev "$HOST"
ip link set "$HOST" up
ip -n "$NS" addr add 10.231.0.2/24 dev "$PEER"
ip -n "$NS" link set "$PEER" up
HOST_MAC=$(cat /sys/class/net/$HOST/address)

node bin/ataru.js serve --host 127.0.0.1 --no-control --http-port "$HTTP" --data-dir "$DATA" \
  --raw-interface "$HOST" >"$DATA/server.log" 2>&1 &
SRV=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$HTTP/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
node bin/ataru.js deploy examples/packet-chain/packet-chain-raw.tmpl --server "127.0.0.1:$HTTP"
echo "frames to TCP/UDP port 443 on $HOST now run firewall -> IDS -> encrypt"
echo

ip netns exec "$NS" python3 - "$PEER" "$HOST_MAC" "$BURST" <<'PY'
import os, socket, struct, sys, threading, time

peer, host_mac, burst = sys.argv[1], bytes.fromhex(sys.argv[2].replace(":", "")), int(sys.argv[3])
my_mac = bytes.fromhex(open(f"/sys/class/net/{peer}/address").read().strip().replace(":", ""))

def csum(b):
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    while s > 0xFFFF:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF

def frame(proto, src, payload, seq):
    nonce = b"DEMO" + struct.pack("!I", seq) + os.urandom(4)
    body = nonce + payload
    if proto == "udp":
        l4 = struct.pack("!HHHH", 40000, 443, 8 + len(body), 0)
    else:
        l4 = struct.pack("!HHIIBBHHH", 40000, 443, seq, 0, 5 << 4, 0x18, 65535, 0, 0)
    ip = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4) + len(body), seq & 0xFFFF, 0, 64,
                               17 if proto == "udp" else 6, 0, socket.inet_aton(src), socket.inet_aton("10.231.0.1")))
    ip[10:12] = struct.pack("!H", csum(bytes(ip)))
    return host_mac + my_mac + b"\x08\x00" + bytes(ip) + l4 + body

tx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
tx.bind((peer, 0))
rx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
rx.bind((peer, 0))
rx.settimeout(0.5)

def is_output(f, addr):
    """A frame the app sent: IPv4 TCP/UDP coming in (the kernel's ICMP
    port-unreachable replies quote our frames, nonce and all)."""
    return addr[2] != socket.PACKET_OUTGOING and len(f) > 23 and f[12:14] == b"\x08\x00" and f[23] in (6, 17)

def output_for(seq):
    """The app's output for frame seq (its nonce is unencrypted), or None."""
    while True:
        try:
            f, addr = rx.recvfrom(70000)
        except socket.timeout:
            return None
        if is_output(f, addr) and b"DEMO" + struct.pack("!I", seq) in f:
            return f

labelled = [
    ("web request", "tcp", "10.231.0.2", b"GET /index.html HTTP/1.1\r\nHost: example.org\r\n\r\n", "no rule or signature"),
    ("quic on udp 443", "udp", "10.231.0.2", b"\xc0\x00\x00\x00\x01", "firewall rule 5: UDP below 1024"),
    ("blocked network", "tcp", "192.0.2.77", b"hello", "firewall rule 0: 192.0.2.0/24"),
    ("path traversal", "tcp", "10.231.0.2", b"GET /../../etc/passwd HTTP/1.0", "IDS signature 0: /etc/passwd"),
    ("sql injection", "tcp", "10.231.0.2", b"user=x' OR '1'='1", "IDS signature 2"),
    ("xss", "tcp", "10.231.0.2", b"<p><script>alert(1)</script>", "IDS signature 3: <script>"),
    ("clean upload", "tcp", "10.231.0.2", os.urandom(1200), "no rule or signature"),
]
print("one frame at a time:")
for i, (label, proto, src, payload, why) in enumerate(labelled):
    tx.send(frame(proto, src, payload, i))
    out = output_for(i)
    if out is None:
        print(f"  {label:18} dropped  ({why}: no frame came back)")
    else:
        ct = out[14 + 20 + 20 + 12:]
        print(f"  {label:18} passed   ({why}): {len(out)} B back, payload encrypted: {ct[:12].hex()}...")

# The burst: mixed traffic; a receiver thread counts what comes back.
mix = [labelled[0], labelled[2], labelled[3], labelled[6]]
frames = [frame(p, s, pl, 1000 + k) for k, (_, p, s, pl, _) in enumerate(mix * (burst // len(mix)))]
got, first, last = 0, None, None
done = threading.Event()
def receive():
    global got, first, last
    rx.settimeout(1.0)
    while not done.is_set():
        try:
            f, addr = rx.recvfrom(70000)
        except socket.timeout:
            continue
        if is_output(f, addr) and b"DEMO" in f:
            got += 1
            last = time.perf_counter()
            first = first or last
t = threading.Thread(target=receive)
t.start()
t0 = time.perf_counter()
for f in frames:
    while True:
        try:
            tx.send(f)
            break
        except BlockingIOError:
            time.sleep(0.0001)
t1 = time.perf_counter()
time.sleep(1.5)
done.set()
t.join()
expected = len(frames) // 2  # the web request and the clean upload pass
print(f"\nburst: {len(frames)} frames sent in {t1 - t0:.2f} s ({len(frames) / (t1 - t0):,.0f}/s); "
      f"{got} passed frames came back of {expected} expected", end="")
if got > 1:
    print(f", at {got / (last - first):,.0f}/s")
else:
    print()
PY

echo
node bin/ataru.js stats packet_chain_raw --server "127.0.0.1:$HTTP"
