#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Regenerate tests/abi/libnvmft.abi from a build directory (default: build).
# Only do this when the ABI change is intended: a release that adds a new
# version node, never to silence a removed or changed interface (doc/abi.md).
# The abidw options live in check_abi.py, so the baseline and the test's
# description of the built library are always made the same way.
# Usage: tests/abi/update-baseline.sh [BUILDDIR]
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
bdir=${1:-build}
case $bdir in /*) ;; *) bdir=$src/$bdir ;; esac
lib=$(ls "$bdir"/lib/libnvmft.so.*.*.* 2>/dev/null | head -1 || true)
[ -n "$lib" ] || { echo "no $bdir/lib/libnvmft.so.X.Y.Z: run ninja -C $bdir first" >&2; exit 1; }
cd "$src"
exec python3 tests/abi/check_abi.py --write-baseline --baseline tests/abi/libnvmft.abi \
	--library "$lib" --headers-dir include/nvmft --headers-dir "$bdir/include/nvmft"
