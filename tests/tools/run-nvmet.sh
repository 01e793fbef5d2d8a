#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# nvmft-perf against the Linux kernel's NVMe/TCP target (nvmet) in the
# linux-host QEMU VM: boot examples/tcp-target-nvmet.sh with a port forward
# from a free host port, then run short nvmft-perf workloads back to back
# (the guest script stops the target 5 s after the last client leaves):
# discovery, random and sequential writes and reads with --verify, digests,
# 128 KiB I/O over two queues (R2T), and a run long enough to need Keep
# Alive.  Each run's JSON is checked with check_perf.py; speed is not (the
# VM runs under TCG).
#
# Usage: run-nvmet.sh --harness DIR --perf PATH --check PATH --workdir DIR
# Exit status: 0 pass, 1 fail, 77 when the harness is not there.
set -uo pipefail

harness="" perf="" check="" workdir=""
while [ $# -gt 1 ]; do
	case $1 in
	--harness) harness=$2 ;;
	--perf) perf=$2 ;;
	--check) check=$2 ;;
	--workdir) workdir=$2 ;;
	*) echo "run-nvmet.sh: unknown argument $1" >&2; exit 1 ;;
	esac
	shift 2
done
[ -n "$harness" ] && [ -n "$perf" ] && [ -n "$check" ] && [ -n "$workdir" ] ||
	{ echo "run-nvmet.sh: missing arguments" >&2; exit 1; }
if [ ! -x "$harness/run" ]; then
	echo "run-nvmet.sh: no linux-host harness at $harness: skipped"
	exit 77
fi
mkdir -p "$workdir"
rm -f "$workdir"/*.json "$workdir"/*.err "$workdir"/*.check "$workdir"/vm.log
nqn=nqn.2024-01.org.example:linux-host-tcp-target
vm_pid=""
failures=0

say() { printf '[run-nvmet] %s\n' "$*"; }
cleanup() {
	# run stops its QEMU by PID on SIGTERM.
	if [ -n "$vm_pid" ] && kill -0 "$vm_pid" 2>/dev/null; then
		kill -TERM "$vm_pid" 2>/dev/null
		wait "$vm_pid" 2>/dev/null
	fi
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$harness/run" "$harness/examples/tcp-target-nvmet.sh" --hostfwd "$port:4420" --timeout 900 \
	>"$workdir/vm.log" 2>&1 &
vm_pid=$!
for _ in $(seq 1 600); do
	grep -q TARGET-READY "$workdir/vm.log" && break
	kill -0 "$vm_pid" 2>/dev/null || break
	sleep 0.5
done
if ! grep -q TARGET-READY "$workdir/vm.log"; then
	say "FAIL: the nvmet VM did not come up"
	tail -n 30 "$workdir/vm.log"
	exit 1
fi
say "nvmet ready on 127.0.0.1:$port"

# run NAME "EXPECTATIONS" FLAGS...
run() {
	local name=$1 expect=$2 status
	shift 2
	timeout 300 "$perf" -a 127.0.0.1 -s "$port" --timeout 60 --json "$@" \
		>"$workdir/$name.json" 2>"$workdir/$name.err"
	status=$?
	# shellcheck disable=SC2086 # EXPECTATIONS is a list
	if python3 "$check" "$workdir/$name.json" "$status" $expect >"$workdir/$name.check"; then
		say "PASS: $name"
	else
		say "FAIL: $name (nvmft-perf $*)"
		cat "$workdir/$name.check" "$workdir/$name.err"
		failures=$((failures + 1))
	fi
}

run discovery_randread "ok count=2000 reads-only" -w randread -q 8 --count 2000
run randwrite_verify "ok count=2000 writes-only verified" \
	-n "$nqn" -w randwrite --verify -q 8 --count 2000 --size 16M
run seqwrite_verify "ok count=1024 writes-only verified" \
	-n "$nqn" -w write --verify -q 8 --count 1024 --size 4M
run randread_verify "ok count=2000 reads-only" \
	-n "$nqn" -w randread --verify -q 8 --count 2000 --size 4M
run randrw_digests_verify "ok count=2000 mixed verified digests" \
	-n "$nqn" -H -I -w randrw --verify -q 8 --count 2000 --size 16M
run rw128k_2queues_verify "ok count=200 mixed verified queues=2" \
	-n "$nqn" -w rw -o 128k --verify -q 4 --queues 2 --count 200 --size 16M
run keepalive_12s "ok keepalive" -n "$nqn" --kato 4000 -w randread -q 4 -t 12

# The guest stops its target once the last client has been gone for 5 s.
for _ in $(seq 1 240); do
	kill -0 "$vm_pid" 2>/dev/null || break
	sleep 0.5
done
wait "$vm_pid"
rc=$?
vm_pid=""
if [ $rc != 0 ]; then
	say "FAIL: the guest script exited with $rc"
	tail -n 20 "$workdir/vm.log"
	failures=$((failures + 1))
fi
say "$((7 - failures)) passed, $failures failed"
[ $failures = 0 ]
