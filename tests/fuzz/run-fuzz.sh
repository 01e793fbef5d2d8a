#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Run one libFuzzer target for a fixed time from the committed corpus.
#
# Usage: run-fuzz.sh FUZZER CORPUS_DIR SECONDS ARTIFACT_DIR [libFuzzer flags...]
#
# New inputs go to a temporary directory (removed afterwards), never into
# CORPUS_DIR.  Crashing, leaking or slow inputs are written to
# ARTIFACT_DIR/<target>-crash-<sha1> (and leak-, timeout-, oom-): turn them
# into regression tests as doc/fuzzing.md says.  NVMFT_FUZZ_SECONDS, when
# set, replaces SECONDS.  Exit status: 0 when nothing was found, else 1
# (libFuzzer's own status is printed: it exits 77 on a crash, which meson
# would count as a skipped test).
set -eu

if [ $# -lt 4 ]; then
	sed -n '3,13p' "$0" >&2
	exit 2
fi
fuzzer=$1
corpus=$2
secs=${NVMFT_FUZZ_SECONDS:-$3}
art=$4
shift 4

name=$(basename "$fuzzer")
name=${name#fuzz_}
mkdir -p "$art"
work=$(mktemp -d "${TMPDIR:-/tmp}/nvmft-fuzz-$name.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

# -jobs/-workers stay at their default (one process): the suite runs on
# small machines next to other work.
rc=0
"$fuzzer" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
	-print_final_stats=1 -artifact_prefix="$art/$name-" "$@" "$work" "$corpus" || rc=$?
echo "run-fuzz: $name: $(find "$work" -type f | wc -l) new inputs, libFuzzer exit status $rc"
[ "$rc" = 0 ] || exit 1
