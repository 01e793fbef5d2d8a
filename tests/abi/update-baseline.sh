#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Regenerate tests/abi/libnvmft.abi from a build directory (default: build).
# Only do this when the ABI change is intended: a release that adds a new
# version node, never to silence a removed or changed interface (doc/abi.md).
# Usage: tests/abi/update-baseline.sh [BUILDDIR]
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
bdir=${1:-build}
case $bdir in /*) ;; *) bdir=$src/$bdir ;; esac
lib=$(ls "$bdir"/lib/libnvmft.so.*.*.* 2>/dev/null | head -1 || true)
[ -n "$lib" ] || { echo "no $bdir/lib/libnvmft.so.X.Y.Z: run ninja -C $bdir first" >&2; exit 1; }
readelf -S "$lib" | grep -q '\.debug_info' ||
	{ echo "$lib has no debug info: configure with a debug or debugoptimized buildtype" >&2; exit 1; }
cd "$src"
# Paths are kept relative and locations short so the file does not depend on
# where the tree is checked out.
abidw --exported-interfaces-only --no-corpus-path --no-comp-dir-path --short-locs --drop-private-types \
	--headers-dir include/nvmft --headers-dir "$bdir/include/nvmft" \
	--out-file tests/abi/libnvmft.abi "$lib"
echo "wrote tests/abi/libnvmft.abi from $lib ($(grep -c '<elf-symbol ' tests/abi/libnvmft.abi) symbols)"
