#!/usr/bin/env bash
# scripts/rig/setup.sh — prepare the hardware-style KVM rig (docs/platform-differences.md):
# Debian's 6.1 kernel under QEMU TCG emulating an AMD EPYC with SVM, where
# kvm_amd loads and /dev/kvm behaves like hardware KVM.
#
# Idempotent and cached: everything lands in .rig/ (gitignored); a rerun
# with .rig/ populated needs no network. Prints the rig folder on success.
#   .rig/vmlinuz                  the kernel
#   .rig/modules/*.ko             uncompressed modules, in load order (MODULES):
#                                 virtio + 9p for the host share (vm.sh),
#                                 kvm + kvm-amd, veth + bridge for network tests
#   .rig/busybox                  static busybox for the initramfs
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
RIG="${ATARU_RIG_DIR:-$ROOT/.rig}"
# The modules the rig needs; their load order (.rig/modules/order, read by
# vm.sh and run.sh) is computed from their dependencies below.
MODULES=(virtio virtio_ring virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci
         netfs fscache 9pnet 9pnet_virtio 9p
         irqbypass kvm ccp kvm-amd
         veth llc stp bridge)
mkdir -p "$RIG/debs" "$RIG/modules"

have_all() {
  [[ -s "$RIG/vmlinuz" && -x "$RIG/busybox" ]] || return 1
  local m
  for m in "${MODULES[@]}"; do [[ -s "$RIG/modules/$m.ko" ]] || return 1; done
  command -v qemu-system-x86_64 >/dev/null && command -v cpio >/dev/null
}
# Load order: every module after the ones its modinfo `depends=` names.
# Debian's kernels change these between point releases (6.1.192 made virtio
# depend on virtio_ring), so the order is read from the modules themselves.
# depends= uses the module's name, where '-' is '_'.
write_order() {
  local m d n wanted ready progress order=() done_=" "
  depends_of() { tr '\0' '\n' <"$RIG/modules/$1.ko" | sed -n 's/^depends=//p' | head -n1 | tr ',' ' '; }
  norm() { echo "${1//-/_}"; }
  while (( ${#order[@]} < ${#MODULES[@]} )); do
    progress=0
    for m in "${MODULES[@]}"; do
      [[ $done_ == *" $(norm "$m") "* ]] && continue
      ready=1
      for d in $(depends_of "$m"); do
        wanted=0
        for n in "${MODULES[@]}"; do [[ $(norm "$n") == "$d" ]] && wanted=1; done
        if (( wanted )) && [[ $done_ != *" $d "* ]]; then ready=0; fi
      done
      if (( ready )); then order+=("$m"); done_+="$(norm "$m") "; progress=1; fi
    done
    (( progress )) || { echo "setup.sh: module dependencies form a cycle or need a module not in MODULES" >&2; exit 1; }
  done
  printf '%s\n' "${order[@]}" >"$RIG/modules/order"
}
if have_all; then write_order; echo "$RIG"; exit 0; fi

export DEBIAN_FRONTEND=noninteractive
updated=0
apt_update_once() {
  if [[ $updated == 0 ]]; then apt-get update -qq -o DPkg::Lock::Timeout=600 >&2; updated=1; fi
}
apt_install() {  # apt_install pkg...: install, updating the lists once if needed
  apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends "$@" >&2 && return 0
  apt_update_once
  apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends "$@" >&2
}

command -v qemu-system-x86_64 >/dev/null || apt_install qemu-system-x86
command -v cpio >/dev/null || apt_install cpio

# download pkg: fetch the .deb into .rig/debs once.
download() {
  local pkg="$1"
  compgen -G "$RIG/debs/${pkg}_*.deb" >/dev/null && return 0
  (cd "$RIG/debs" && apt-get download -qq -o APT::Sandbox::User=root "$pkg" >&2) && return 0
  apt_update_once
  (cd "$RIG/debs" && apt-get download -qq -o APT::Sandbox::User=root "$pkg" >&2)
}

# The kernel: the ABI linux-image-amd64 currently depends on.
kpkg=""
if compgen -G "$RIG/debs/linux-image-6.1.0-*-amd64_*.deb" >/dev/null; then
  kpkg=$(basename "$(ls "$RIG"/debs/linux-image-6.1.0-*-amd64_*.deb | head -n1)")
  kpkg=${kpkg%%_*}
else
  kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/.*Depends: \(linux-image-[0-9.]*-[0-9]*-amd64\)$/\1/p' | head -n1)
  if [[ -z $kpkg ]]; then
    apt_update_once
    kpkg=$(apt-cache depends linux-image-amd64 | sed -n 's/.*Depends: \(linux-image-[0-9.]*-[0-9]*-amd64\)$/\1/p' | head -n1)
  fi
  [[ -n $kpkg ]] || { echo "setup.sh: cannot find the linux-image package for linux-image-amd64" >&2; exit 1; }
fi
download "$kpkg"
download busybox-static

x="$RIG/extract"
if [[ ! -d $x/boot ]]; then
  rm -rf "$x.tmp" && mkdir -p "$x.tmp"
  dpkg -x "$(ls "$RIG"/debs/"${kpkg}"_*.deb | head -n1)" "$x.tmp"
  mv "$x.tmp" "$x"
fi
cp "$(ls "$x"/boot/vmlinuz-* | head -n1)" "$RIG/vmlinuz"

# Modules, decompressed (busybox insmod takes plain .ko files).
for m in "${MODULES[@]}"; do
  f=$(find "$x/lib/modules" -name "$m.ko*" | head -n1)
  [[ -n $f ]] || { echo "setup.sh: module $m not in $kpkg" >&2; exit 1; }
  case "$f" in
    *.ko.xz)  xz -dc "$f" >"$RIG/modules/$m.ko.tmp" ;;
    *.ko.zst) zstd -qdc "$f" >"$RIG/modules/$m.ko.tmp" ;;
    *.ko.gz)  gzip -dc "$f" >"$RIG/modules/$m.ko.tmp" ;;
    *)        cp "$f" "$RIG/modules/$m.ko.tmp" ;;
  esac
  mv "$RIG/modules/$m.ko.tmp" "$RIG/modules/$m.ko"
done

bx="$RIG/extract-busybox"
if [[ ! -x $bx/bin/busybox ]]; then
  rm -rf "$bx" && mkdir -p "$bx"
  dpkg -x "$(ls "$RIG"/debs/busybox-static_*.deb | head -n1)" "$bx"
fi
cp "$bx/bin/busybox" "$RIG/busybox"
chmod +x "$RIG/busybox"

# The extracted trees (~400 MB) are not needed once the pieces are copied;
# the .debs stay as the offline cache.
rm -rf "$x" "$bx"
write_order
have_all || { echo "setup.sh: rig incomplete in $RIG" >&2; exit 1; }
echo "$RIG"
