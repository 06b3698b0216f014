#!/usr/bin/env bash
# Assembles javic's guest test images (Multiboot v1, 32-bit ELF) with the machine's GNU as / ld:
#   bash src/test/guest/build.sh [OUTDIR]      (default: target/guest)
# Each image NAME.S becomes OUTDIR/NAME.elf, linked at 1 MiB by guest.ld. The /dev/kvm tests run this script.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${1:-$here/../../../target/guest}"
mkdir -p "$out"
for tool in as ld; do
  command -v "$tool" >/dev/null 2>&1 || { echo "build.sh: GNU $tool not found (apt-get install binutils)" >&2; exit 2; }
done
for src in "$here"/*.S; do
  name="$(basename "$src" .S)"
  as --32 -I "$here" -o "$out/$name.o" "$src"
  ld -m elf_i386 --no-warn-rwx-segments -T "$here/guest.ld" -nostdlib -o "$out/$name.elf" "$out/$name.o"
  rm -f "$out/$name.o"
done
