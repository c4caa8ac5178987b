#!/usr/bin/env bash
# scripts/rig/vm.sh — run a command of this checkout inside the hardware-style
# KVM machine (Debian's kernel with kvm_amd under QEMU TCG), with the host's
# whole filesystem shared into it over 9p: the same node, node_modules, build
# outputs and /tmp. The command runs as root in the current directory, with
# the caller's environment, and with a usable /dev/kvm.
#
#   scripts/rig/vm.sh [--timeout S] [--name WHAT] [--out FILE] -- command [args...]
#
# The machine's TMPDIR is a tmpfs of its own (in the run folder, gone with
# it). The command's stdout and stderr are streamed to this script's stdout as the
# command runs (and kept in FILE with --out). Exit status: the command's; 124
# when it ran longer than --timeout seconds (default ATARU_VM_TIMEOUT or 1800),
# with a message naming WHAT; 125 when the machine failed before the command
# started (boot, modules, the 9p mount): the console log is printed then.
#
# Inside, ATARU_IN_VM=1 is set, ATARU_GUEST_TSS_TYPE=9 works around QEMU-TCG's
# TSS check (docs/platform-differences.md), and ATARU_TEST_SCALE defaults to
# the emulated-machine scale (docs/testing.md). Everything in the machine is
# emulated: its timings say nothing about performance.
# Needs scripts/rig/setup.sh to have run (ATARU_RIG_DIR, default .rig/).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
RIG="${ATARU_RIG_DIR:-$ROOT/.rig}"
TIMEOUT="${ATARU_VM_TIMEOUT:-1800}"
NAME=""
OUT=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --timeout) TIMEOUT="$2"; shift 2 ;;
    --name) NAME="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    --) shift; break ;;
    *) echo "vm.sh: unknown option $1 (usage: vm.sh [--timeout S] [--name WHAT] [--out FILE] -- command...)" >&2; exit 2 ;;
  esac
done
[[ $# -ge 1 ]] || { echo "usage: vm.sh [--timeout S] [--name WHAT] [--out FILE] -- command [args...]" >&2; exit 2; }
[[ -n $NAME ]] || NAME="$*"
for f in "$RIG/vmlinuz" "$RIG/busybox" "$RIG/modules/order"; do
  [[ -e $f ]] || { echo "vm.sh: the rig is not set up ($f missing): run bash scripts/rig/setup.sh" >&2; exit 2; }
done
command -v qemu-system-x86_64 >/dev/null || { echo "vm.sh: qemu-system-x86_64 not found: run bash scripts/rig/setup.sh" >&2; exit 2; }

# The run folder is on the host's filesystem, so the machine writes the
# command's output and status where this script reads them.
work="$(mktemp -d "$RIG/vm.XXXXXX")"
qpid=""
tpid=""
cleanup() {
  [[ -n $qpid ]] && kill "$qpid" 2>/dev/null
  [[ -n $tpid ]] && kill "$tpid" 2>/dev/null
  [[ -n ${ATARU_RIG_KEEP:-} ]] || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The command, as a script the machine runs after chroot into the host's /.
{
  echo '#!/bin/bash'
  # The caller's environment, less what belongs to this shell.
  export -p | grep -Ev '^declare -x (PWD|OLDPWD|SHLVL|_|TERM|TMUX|TMUX_PANE|SSH_[A-Z_]*)=' || true
  echo 'export ATARU_IN_VM=1 ATARU_GUEST_TSS_TYPE=9 ATARU_GUEST_CR4_OFF=smap,smep'
  printf 'export TMPDIR=%q\n' "$work/tmp"
  echo ': "${ATARU_TEST_SCALE:=emulated}"; export ATARU_TEST_SCALE'
  printf 'cd %q || exit 126\n' "$PWD"
  printf '%q ' "$@"
  echo
} >"$work/cmd.sh"
chmod +x "$work/cmd.sh"
: >"$work/out"

st="$work/initramfs"
mkdir -p "$st"/{bin,dev,proc,sys,host,modules}
cp "$RIG/busybox" "$st/bin/busybox"
cp "$RIG"/modules/*.ko "$RIG/modules/order" "$st/modules/"
cat >"$st/init" <<INIT
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
exec </dev/console >/dev/console 2>&1
while read -r m; do
  insmod /modules/\$m.ko 2>/dev/null || echo "ATARU_VM_NOTE insmod \$m failed"
done </modules/order
[ -c /dev/kvm ] || echo "ATARU_VM_NOTE /dev/kvm missing (no SVM in the emulated CPU?)"
if ! mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=loose host /host; then
  echo "ATARU_VM_FAIL mount of the host share failed"; poweroff -f
fi
mount -t proc proc /host/proc
mount -t sysfs sys /host/sys
mount -o bind /dev /host/dev
mkdir -p /host/dev/shm /host/dev/pts
mount -t tmpfs -o mode=1777 shm /host/dev/shm
mount -t devpts devpts /host/dev/pts
# A temp folder of the machine's own: the host may write its /tmp (tsx's
# transform cache among it) while the machine runs, and the 9p cache would
# not see those writes; unix sockets work on tmpfs, not over 9p.
mkdir -p $(printf '%q' "/host$work/tmp")
mount -t tmpfs -o mode=1777 vmtmp $(printf '%q' "/host$work/tmp")
ip link set lo up
echo ATARU_VM_START
chroot /host /bin/bash $(printf '%q' "$work/cmd.sh") >>$(printf '%q' "/host$work/out") 2>&1 </dev/null
echo \$? >$(printf '%q' "/host$work/status.tmp")
mv $(printf '%q' "/host$work/status.tmp") $(printf '%q' "/host$work/status")
sync
echo ATARU_VM_EXIT
poweroff -f
INIT
chmod +x "$st/init"
(cd "$st" && find . -print0 | cpio --null -o -H newc --quiet | gzip -1 >"$work/initramfs.cpio.gz")

qemu-system-x86_64 -accel tcg,thread=multi -cpu EPYC -smp "${ATARU_VM_CPUS:-2}" -m "${ATARU_VM_MEMORY:-8192}" \
  -nographic -no-reboot -kernel "$RIG/vmlinuz" -initrd "$work/initramfs.cpio.gz" \
  -append "console=ttyS0 quiet panic=-1" \
  -virtfs local,path=/,mount_tag=host,security_model=passthrough,id=host0,multidevs=remap \
  </dev/null >"$work/console.log" 2>&1 &
qpid=$!
# Stream the command's output while the machine runs.
tail -n +1 -F --pid="$qpid" "$work/out" 2>/dev/null | tee ${OUT:+"$OUT"} &
tpid=$!

deadline=$((SECONDS + TIMEOUT))
while kill -0 "$qpid" 2>/dev/null; do
  if ((SECONDS >= deadline)); then
    kill "$qpid" 2>/dev/null
    wait "$qpid" 2>/dev/null || true
    qpid=""
    wait "$tpid" 2>/dev/null || true
    tpid=""
    echo "vm.sh: $NAME did not finish within ${TIMEOUT}s in the KVM machine; it was stopped" >&2
    exit 124
  fi
  sleep 1
done
wait "$qpid" 2>/dev/null || true
qpid=""
wait "$tpid" 2>/dev/null || true
tpid=""

console() { tr -d '\r' <"$work/console.log" | sed 's/\x1b\[[0-9;?]*[a-zA-Z]//g; s/\x1b[a-zA-Z]//g'; }
console | grep '^ATARU_VM_NOTE' >&2 || true
if [[ -s $work/status ]]; then
  exit "$(cat "$work/status")"
fi
echo "vm.sh: the KVM machine ended before $NAME reported a status; its console log:" >&2
console >&2
exit 125
