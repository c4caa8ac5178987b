#!/usr/bin/env bash
# scripts/rig/run.sh — run a static binary inside the hardware-style KVM rig
# (Debian 6.1 + kvm_amd under QEMU TCG, docs/platform-differences.md) and exit with its status.
#
#   scripts/rig/run.sh [-f PATH]... [-e NAME=VALUE]... <static-binary> [args...]
#
# -f PATH (file or folder, relative to the current directory) is copied into
# the initramfs at the same relative path under /work, and the binary runs
# with /work as its current directory, so relative arguments mean the same
# thing on the host and in the rig. -e sets an environment variable for the
# binary. The binary's output (stdout + stderr) is printed; in the guest it
# sits between the markers `ATARU_RIG_START` and `ATARU_RIG_EXIT <status>`.
# Exit status: the binary's, or 124 on timeout (ATARU_RIG_TIMEOUT seconds,
# default 120), 125 when the rig did not report a status (boot failure,
# module load failure: the console log is printed).
# Needs scripts/rig/setup.sh to have run (ATARU_RIG_DIR, default .rig/).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
RIG="${ATARU_RIG_DIR:-$ROOT/.rig}"
TIMEOUT="${ATARU_RIG_TIMEOUT:-120}"

files=()
envs=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    -f) files+=("$2"); shift 2 ;;
    -e) [[ $2 =~ ^[A-Za-z_][A-Za-z0-9_]*=[^$'\n']*$ ]] || { echo "run.sh: -e takes NAME=VALUE: $2" >&2; exit 2; }
        envs+=("$2"); shift 2 ;;
    --) shift; break ;;
    -*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
[[ $# -ge 1 ]] || { echo "usage: run.sh [-f PATH]... [-e NAME=VALUE]... <static-binary> [args...]" >&2; exit 2; }
bin="$1"; shift
[[ -f $bin ]] || { echo "run.sh: no such binary: $bin" >&2; exit 2; }
for f in "$RIG/vmlinuz" "$RIG/busybox" "$RIG/modules/kvm-amd.ko"; do
  [[ -e $f ]] || { echo "run.sh: rig not set up ($f missing): run scripts/rig/setup.sh" >&2; exit 2; }
done
if file "$bin" 2>/dev/null | grep -q 'dynamically linked'; then
  echo "run.sh: $bin is dynamically linked; the rig has no libc: link it -static" >&2; exit 2
fi

work="$(mktemp -d "$RIG/run.XXXXXX")"
trap '[[ -n ${ATARU_RIG_KEEP:-} ]] || rm -rf "$work"' EXIT
st="$work/root"
mkdir -p "$st"/{bin,dev,proc,sys,tmp,modules,work}
cp "$RIG/busybox" "$st/bin/busybox"
for m in irqbypass kvm ccp kvm-amd; do cp "$RIG/modules/$m.ko" "$st/modules/"; done
cp "$bin" "$st/work/.rig-binary"
chmod +x "$st/work/.rig-binary"
for f in "${files[@]}"; do
  case "$f" in /*|*..*) echo "run.sh: -f takes a relative path below the current directory: $f" >&2; exit 2 ;; esac
  [[ -e $f ]] || { echo "run.sh: no such file: $f" >&2; exit 2; }
  mkdir -p "$st/work/$(dirname "$f")"
  cp -r "$f" "$st/work/$(dirname "$f")/"
done
mknod -m 600 "$st/dev/console" c 5 1 2>/dev/null || true

# Arguments are passed through a file, one per line (no shell quoting games).
: >"$st/work/.rig-args"
for a in "$@"; do
  [[ $a != *$'\n'* ]] || { echo "run.sh: arguments may not contain newlines" >&2; exit 2; }
  printf '%s\n' "$a" >>"$st/work/.rig-args"
done

# Environment for the binary, one NAME=VALUE per line.
: >"$st/work/.rig-env"
for e in "${envs[@]}"; do printf '%s\n' "$e" >>"$st/work/.rig-env"; done

cat >"$st/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
exec </dev/console >/dev/console 2>&1
for m in irqbypass kvm ccp kvm-amd; do
  insmod /modules/$m.ko || echo "ATARU_RIG_NOTE insmod $m failed"
done
[ -c /dev/kvm ] || echo "ATARU_RIG_NOTE /dev/kvm missing (no SVM?)"
cd /work
set --
while IFS= read -r a; do set -- "$@" "$a"; done < /work/.rig-args
while IFS= read -r e; do export "$e"; done < /work/.rig-env
echo "ATARU_RIG_START"
/work/.rig-binary "$@"
rc=$?
# On a line of its own even when the output did not end with a newline.
echo
echo "ATARU_RIG_EXIT $rc"
poweroff -f
INIT
chmod +x "$st/init"
(cd "$st" && find . -print0 | cpio --null -o -H newc --quiet | gzip -1 >"$work/initramfs.cpio.gz")

set +e
timeout --kill-after=5 "$TIMEOUT" qemu-system-x86_64 -accel tcg -cpu EPYC -smp 1 -m 1024 \
  -nographic -no-reboot -kernel "$RIG/vmlinuz" -initrd "$work/initramfs.cpio.gz" \
  -append "console=ttyS0 quiet panic=-1" </dev/null >"$work/console.log" 2>&1
qrc=$?
set -e
# Serial output: drop carriage returns and the terminal escapes of the BIOS
# and kernel (they can share a line with the start marker).
tr -d '\r' <"$work/console.log" | sed 's/\x1b\[[0-9;?]*[a-zA-Z]//g; s/\x1b[a-zA-Z]//g' >"$work/console.txt"

# Notes of /init (a module that did not load) go to stderr in any case.
grep '^ATARU_RIG_NOTE' "$work/console.txt" >&2 || true
status=$(sed -n 's/^ATARU_RIG_EXIT \([0-9]*\)$/\1/p' "$work/console.txt" | tail -n1)
if [[ -n $status ]]; then
  # The binary's output: between the markers, less the newline /init added.
  awk '/^ATARU_RIG_EXIT /{if (held && prev != "") print prev; exit}
       on{if (held) print prev; prev = $0; held = 1}
       /ATARU_RIG_START$/{on = 1}' "$work/console.txt"
  exit "$status"
fi
cat "$work/console.txt"
if [[ $qrc == 124 || $qrc == 137 ]]; then
  echo "run.sh: the rig timed out after ${TIMEOUT}s" >&2; exit 124
fi
echo "run.sh: the rig ended without a status (qemu exit $qrc)" >&2
exit 125
