#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# One nvmft-perf test: start nvmft-tgt on a free 127.0.0.1 port (port 0, the
# ready line says which), run nvmft-perf against it with --json, check the
# result with check_perf.py, stop the target with SIGTERM and require a
# clean exit.  Nothing about speed is checked.
#
# Usage: run-perf.sh --tgt PATH --perf PATH --check PATH --workdir DIR
#                    [--ns SPEC] [--tgt-arg ARG]... [--no-nqn]
#                    [--pre "PERF ARGS"] [--expect EXP]... -- PERF ARGS...
#   --ns SPEC      nvmft-tgt namespace (default ram:32M)
#   --no-nqn       leave out -n: nvmft-perf asks the discovery controller
#   --pre ARGS     a first nvmft-perf run (e.g. writing a region), must succeed
#   --expect EXP   check_perf.py expectation (default: ok)
# A floor tool runs without a target:
#        run-perf.sh --tool PATH --check PATH --workdir DIR --expect tool=NAME -- ARGS...
# Exit status: 0 pass, 1 fail.
set -uo pipefail

tgt="" perf="" check="" workdir="" ns="ram:32M" tool="" pre=""
use_nqn=1
tgt_args=() expects=()
while [ $# -gt 0 ]; do
	case $1 in
	--tgt) tgt=$2; shift ;;
	--perf) perf=$2; shift ;;
	--check) check=$2; shift ;;
	--workdir) workdir=$2; shift ;;
	--ns) ns=$2; shift ;;
	--tgt-arg) tgt_args+=("$2"); shift ;;
	--no-nqn) use_nqn=0 ;;
	--pre) pre=$2; shift ;;
	--expect) expects+=("$2"); shift ;;
	--tool) tool=$2; shift ;;
	--) shift; break ;;
	*) echo "run-perf.sh: unknown argument $1" >&2; exit 1 ;;
	esac
	shift
done
[ -n "$check" ] && [ -n "$workdir" ] || { echo "run-perf.sh: missing arguments" >&2; exit 1; }
[ ${#expects[@]} -gt 0 ] || expects=(ok)
mkdir -p "$workdir"
# Results of an earlier run must not be mistaken for this one's.
rm -f "$workdir"/*.json "$workdir"/*.err "$workdir"/tgt.out
nqn=nqn.2024-01.io.libnvmft:perf-test
tpid=""

say() { printf '[run-perf] %s\n' "$*"; }
dump() {
	local f
	for f in "$workdir"/*.err "$workdir"/*.json "$workdir"/tgt.out; do
		[ -s "$f" ] || continue
		echo "--- $f"
		tail -n 40 "$f"
	done
}
stop_tgt() {
	[ -n "$tpid" ] || return 0
	kill -TERM "$tpid" 2>/dev/null
	for _ in $(seq 1 100); do
		kill -0 "$tpid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$tpid" 2>/dev/null; then
		kill -KILL "$tpid" 2>/dev/null
		wait "$tpid" 2>/dev/null
		tpid=""
		say "FAIL: nvmft-tgt did not exit within 10 s of SIGTERM"
		return 1
	fi
	wait "$tpid"
	local rc=$?
	tpid=""
	if [ $rc != 0 ]; then
		say "FAIL: nvmft-tgt exited with status $rc"
		return 1
	fi
	return 0
}
trap 'stop_tgt >/dev/null 2>&1' EXIT

# --- a floor tool, no target ----------------------------------------------------
if [ -n "$tool" ]; then
	timeout 120 "$tool" --json "$@" >"$workdir/result.json" 2>"$workdir/tool.err"
	status=$?
	if ! python3 "$check" "$workdir/result.json" "$status" "${expects[@]}"; then
		dump
		exit 1
	fi
	exit 0
fi

# --- the target -------------------------------------------------------------------
[ -x "$tgt" ] && [ -x "$perf" ] || { echo "run-perf.sh: need --tgt and --perf" >&2; exit 1; }
"$tgt" -l tcp:127.0.0.1:0 -n "$nqn" --ns "$ns" "${tgt_args[@]}" \
	>"$workdir/tgt.out" 2>"$workdir/tgt.err" &
tpid=$!
port=""
for _ in $(seq 1 300); do
	port=$(sed -n 's/.*ready: listening on tcp 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$workdir/tgt.out")
	[ -n "$port" ] && break
	kill -0 "$tpid" 2>/dev/null || break
	sleep 0.1
done
if [ -z "$port" ]; then
	say "FAIL: nvmft-tgt did not report ready"
	dump
	exit 1
fi

target=(-a 127.0.0.1 -s "$port")
[ $use_nqn = 1 ] && target+=(-n "$nqn")
failed=0

if [ -n "$pre" ]; then
	# shellcheck disable=SC2086 # PRE is a list of flags
	timeout 120 "$perf" "${target[@]}" --json $pre >"$workdir/pre.json" 2>"$workdir/pre.err"
	status=$?
	if ! python3 "$check" "$workdir/pre.json" "$status" ok; then
		say "FAIL: the --pre run failed"
		failed=1
	fi
fi
if [ $failed = 0 ]; then
	timeout 120 "$perf" "${target[@]}" --json "$@" >"$workdir/result.json" \
		2>"$workdir/perf.err"
	status=$?
	python3 "$check" "$workdir/result.json" "$status" "${expects[@]}" || failed=1
fi
stop_tgt || failed=1
if [ $failed != 0 ]; then
	dump
	exit 1
fi
exit 0
