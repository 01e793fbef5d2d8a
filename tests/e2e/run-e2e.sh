#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# End-to-end tests of nvmft-tgt against the Linux kernel's NVMe/TCP host.
#
# Host side of one test: start nvmft-tgt on 127.0.0.1 (port 0: the kernel
# picks a free port, the ready line says which), boot the linux-host VM with
# the test's guest script (the guest reaches the target at 10.0.2.2:PORT),
# then stop the target with SIGTERM and check everything:
#   - the guest script's exit status (each phase prints PASS:/FAIL:),
#   - the target's exit status (0 after a clean shutdown),
#   - no error or warning line on the target's stderr unless the test
#     expects it, and the test's own host-side checks.
# Logs (target stderr at --log-level debug, guest console) stay in WORKDIR.
#
# Usage: run-e2e.sh --harness DIR --tgt PATH --workdir DIR [--rpc PATH] TEST
#   TEST: basic | fio-mq | digest-busypoll | rpc-seed (see the test_* functions
#   below); rpc-seed needs --rpc, the nvmft-rpc client
# Exit status: 0 when every check passed, 1 otherwise (never 77: a missing
# harness is a failure, not a skip).
set -uo pipefail

harness="" tgt="" workdir="" rpc=""
usage() {
	sed -n '2,22p' "$0" >&2
	exit 1
}
while [ $# -gt 1 ]; do
	case $1 in
	--harness) harness=$2 ;;
	--tgt) tgt=$2 ;;
	--workdir) workdir=$2 ;;
	--rpc) rpc=$2 ;;
	*) usage ;;
	esac
	shift 2
done
[ $# = 1 ] && [ -n "$harness" ] && [ -n "$tgt" ] && [ -n "$workdir" ] || usage
test_name=$1
here=$(cd "$(dirname "$0")" && pwd)
guest_dir=$here/guest

e2e_tag=$test_name
. "$here/report.sh"

# --- processes: every one is ours, stopped by PID ---------------------------
declare -A tpid=() tport=()
run_pid="" tail_pid=""

cleanup() {
	local n p
	for n in "${!tpid[@]}"; do
		p=${tpid[$n]}
		kill -0 "$p" 2>/dev/null || continue
		kill -TERM "$p" 2>/dev/null
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.5
		done
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	# run stops its QEMU by PID when it gets SIGTERM.
	if [ -n "$run_pid" ] && kill -0 "$run_pid" 2>/dev/null; then
		kill -TERM "$run_pid" 2>/dev/null
		wait "$run_pid" 2>/dev/null
	fi
	if [ -n "$tail_pid" ]; then
		kill "$tail_pid" 2>/dev/null
		wait "$tail_pid" 2>/dev/null
	fi
}
trap cleanup EXIT
trap 'fail "interrupted"; finish' INT TERM

# start_target NAME ARGS...: start nvmft-tgt (listening on 127.0.0.1 port 0,
# plus ARGS), wait for its ready line, remember its PID and port.
start_target() {
	local name=$1 t=0 port
	shift
	"$tgt" -l tcp:127.0.0.1:0 --log-level debug "$@" \
		> "$workdir/$name.out" 2> "$workdir/$name.err" &
	tpid[$name]=$!
	say "target $name (pid ${tpid[$name]}): $tgt -l tcp:127.0.0.1:0 --log-level debug $*"
	until grep -q ': ready: ' "$workdir/$name.out"; do
		if ! kill -0 "${tpid[$name]}" 2>/dev/null || [ $t -ge 300 ]; then
			wait "${tpid[$name]}" 2>/dev/null
			say "target $name stderr:"
			sed 's/^/    /' "$workdir/$name.err"
			unset "tpid[$name]"
			die "target $name did not start (no ready line)"
		fi
		sleep 0.1
		t=$((t + 1))
	done
	port=$(sed -n 's/.* 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$workdir/$name.out" | head -1)
	[ -n "$port" ] || die "target $name: no port in its ready line: $(cat "$workdir/$name.out")"
	tport[$name]=$port
	say "target $name ready on 127.0.0.1:$port"
}

# stop_target NAME [ALLOWED_ERE]: SIGTERM, then exit status 0 within 30 s
# and no error/warning line on stderr other than ones matching ALLOWED_ERE.
stop_target() {
	local name=$1 allowed=${2:-} p=${tpid[$1]} rc t=0 bad
	if ! kill -0 "$p" 2>/dev/null; then
		wait "$p"
		rc=$?
		fail "target $name died during the test (exit status $rc)"
	else
		kill -TERM "$p"
		while kill -0 "$p" 2>/dev/null && [ $t -lt 300 ]; do
			sleep 0.1
			t=$((t + 1))
		done
		if kill -0 "$p" 2>/dev/null; then
			kill -KILL "$p"
			wait "$p" 2>/dev/null
			fail "target $name did not exit within 30 s of SIGTERM (killed)"
		else
			wait "$p"
			rc=$?
			if [ "$rc" = 0 ]; then
				pass "target $name exited 0 after SIGTERM ($((t / 10)).$((t % 10)) s)"
			else
				fail "target $name exited $rc after SIGTERM"
			fi
		fi
	fi
	unset "tpid[$name]"
	# Errors, warnings, and a controller the target failed (keep-alive
	# expiry, fatal transport error: a notice naming the controller).
	bad=$(grep -E '^nvmft-tgt: ((emerg|alert|crit|error|warning):|notice: .*: controller [0-9]+ of .* \(host )' \
		"$workdir/$name.err" |
		{ if [ -n "$allowed" ]; then grep -Ev "$allowed"; else cat; fi })
	if [ -n "$bad" ]; then
		fail "target $name logged unexpected errors/warnings:"
		printf '%s\n' "$bad" | sed 's/^/    /'
	else
		pass "target $name: no unexpected error or warning on stderr"
	fi
	say "target $name stderr ($(wc -l < "$workdir/$name.err") lines, debug level), last lines:"
	tail -n 25 "$workdir/$name.err" | sed 's/^/    /'
}

# qids_seen NAME N: the target closed I/O connections with qid 1..N, i.e. the
# host created N I/O queues on it.
qids_seen() {
	local q missing=""
	for q in $(seq 1 "$2"); do
		grep -q "closing connection (qid $q)" "$workdir/$1.err" || missing+=" $q"
	done
	if [ -z "$missing" ]; then
		pass "target $1 served I/O queues 1..$2"
	else
		fail "target $1 never had I/O queue(s)$missing"
	fi
}

# run_guest SCRIPT RUN_OPTIONS...: boot the VM with tests/e2e/guest/SCRIPT;
# the console goes to stdout and $workdir/guest.log.
run_guest() {
	local script=$1 rc
	shift
	say "guest: $harness/run $script $*"
	"$harness/run" "$guest_dir/$script" --timeout 600 --include "$guest_dir" \
		--env E2E_GUEST="$guest_dir" "$@" > "$workdir/guest.log" 2>&1 &
	run_pid=$!
	tail -n +1 -f --pid="$run_pid" "$workdir/guest.log" &
	tail_pid=$!
	wait "$run_pid"
	rc=$?
	run_pid=""
	wait "$tail_pid" 2>/dev/null
	tail_pid=""
	if grep -q '^\[linux-host\] ERROR:' "$workdir/guest.log"; then
		fail "the VM harness failed: $(grep '^\[linux-host\] ERROR:' "$workdir/guest.log" |
			head -1)"
		return
	fi
	case $rc in
	0) pass "guest script $script: every phase passed" ;;
	124) fail "guest timed out (run --timeout)" ;;
	125) fail "guest died without reporting a status (kernel panic?)" ;;
	*) fail "guest script $script exited $rc: $(grep -ao 'FAIL: [^ ]*' "$workdir/guest.log" |
		cut -d' ' -f2 | tr '\n' ' ')" ;;
	esac
}

# --- the tests --------------------------------------------------------------

# basic: one event-driven poll group thread.  A subsystem from an SPDK JSON
# config (serial, model, namespace UUID, max_namespaces) with a 64 MiB RAM
# namespace, and one from flags whose namespace is a file on the host.
# Guest: discovery, identify, logs, dd verify, flush, write zeroes,
# deallocate, reconnect, file backend; host: the file holds what the guest
# wrote (checked after the target exited, so the data reached the file).
test_basic() {
	local nqn_ram=nqn.2024-01.io.libnvmft:e2e-ram nqn_file=nqn.2024-01.io.libnvmft:e2e-file
	local serial=NVMFTE2E0001 model="libnvmft e2e ram" uuid=6f1c2ad0-8e3b-4b9a-9c55-1d2e3f405162
	local img=$workdir/file.img file_mb=16 write_mb=8 tail_sha head_sha guest_sha
	cat > "$workdir/config.json" <<-EOF
		{ "subsystems": [
		  { "subsystem": "bdev", "config": [
		    { "method": "bdev_malloc_create",
		      "params": { "name": "Malloc0", "num_blocks": $((64 * 2048)), "block_size": 512,
		                  "uuid": "$uuid" } } ] },
		  { "subsystem": "nvmf", "config": [
		    { "method": "nvmf_create_subsystem",
		      "params": { "nqn": "$nqn_ram", "allow_any_host": true, "max_namespaces": 8,
		                  "serial_number": "$serial", "model_number": "$model" } },
		    { "method": "nvmf_subsystem_add_ns",
		      "params": { "nqn": "$nqn_ram", "namespace": { "nsid": 1, "bdev_name": "Malloc0" } } } ] } ] }
	EOF
	head -c $((file_mb << 20)) /dev/urandom > "$img" || die "cannot create $img"
	tail_sha=$(tail -c $(((file_mb - write_mb) << 20)) "$img" | sha256sum | cut -d' ' -f1)

	start_target tgt -c "$workdir/config.json" -m 1 --event -n "$nqn_file" --ns "file:$img"
	run_guest basic.sh --env TARGET_PORT="${tport[tgt]}" --env NQN_RAM="$nqn_ram" \
		--env NQN_FILE="$nqn_file" --env SERIAL="$serial" --env MODEL="$model" \
		--env MAX_NS=8 --env NS_UUID="$uuid" --env RAM_MB=64 --env MAX_IO_KIB=128 \
		--env FILE_MB=$file_mb --env FILE_WRITE_MB=$write_mb --env FILE_TAIL_SHA="$tail_sha"
	# The guest's link goes down for longer than KATO on purpose: the target
	# must expire that controller, and nothing else may fail.
	local expiry="notice: .*: controller [0-9]+ of $nqn_ram \(host .*\): keep-alive timeout expired\$"
	stop_target tgt "$expiry"
	case $(grep -cE "$expiry" "$workdir/tgt.err") in
	1) pass "target expired the controller whose host went silent" ;;
	0) fail "target did not report a keep-alive timeout while the guest's link was down" ;;
	*) fail "target reported more than one keep-alive timeout: $(grep -E "$expiry" "$workdir/tgt.err")" ;;
	esac

	guest_sha=$(tr -d '\r' < "$workdir/guest.log" | grep -ao 'E2E-FILE-SHA256=[0-9a-f]*' |
		tail -1 | cut -d= -f2)
	head_sha=$(head -c $((write_mb << 20)) "$img" | sha256sum | cut -d' ' -f1)
	if [ -z "$guest_sha" ]; then
		fail "file backend: the guest did not report what it wrote"
	elif [ "$guest_sha" = "$head_sha" ]; then
		pass "file backend: $img holds the ${write_mb} MiB the guest wrote (sha256 $head_sha)"
	else
		fail "file backend: $img head sha256 $head_sha, guest wrote $guest_sha"
	fi
	if [ "$(tail -c $(((file_mb - write_mb) << 20)) "$img" | sha256sum | cut -d' ' -f1)" = "$tail_sha" ]; then
		pass "file backend: the rest of $img is untouched"
	else
		fail "file backend: the guest's write changed $img beyond ${write_mb} MiB"
	fi
}

# fio-mq: two event-driven poll group threads; the host asks for 4 I/O
# queues (2 default + 2 write queues: the guest has 2 CPUs) and runs fio
# verify jobs on all of them, a mixed random read/write load, a controller
# reset, and a second verify of the first data.
test_fio_mq() {
	local nqn=nqn.2024-01.io.libnvmft:e2e-mq
	start_target tgt -m 2 --event -n "$nqn" --ns ram:128M
	# Two vCPUs on every machine, so the queue layout is always the same.
	run_guest fio-mq.sh --smp 2 --include "$fio" --env TARGET_PORT="${tport[tgt]}" \
		--env NQN="$nqn" --env IO_QUEUES=4
	stop_target tgt
	qids_seen tgt 4
}

# digest-busypoll: two busy-polling poll group threads; the host connects
# with header and data digests (both, and each alone) and runs dd and fio,
# Flush, Write Zeroes, Deallocate and a reconnect; then with SQ flow control
# disabled, so that reads end with C2HData SUCCESS (checked here: the target
# says so for the I/O queues).  A second target declines digests: the host
# must refuse it when it asks for them and connect without.
test_digest_busypoll() {
	local nqn=nqn.2024-01.io.libnvmft:e2e-digest n
	local success=': tcp: qid [1-9][0-9]*: SQ flow control disabled: reads end with C2HData SUCCESS$'
	start_target tgt -m 2 --busy-poll -n "$nqn" --ns ram:64M
	start_target nodigest -m 1 --event --no-hdgst --no-ddgst -n "$nqn" --ns ram:16M
	run_guest digest.sh --include "$fio" --env TARGET_PORT="${tport[tgt]}" --env NQN="$nqn" \
		--env NODIGEST_PORT="${tport[nodigest]}"
	stop_target tgt
	stop_target nodigest
	n=$(grep -cE "$success" "$workdir/tgt.err")
	if [ "$n" -ge 1 ]; then
		pass "$n I/O queue(s) connected with SQ flow control off: reads took C2HData SUCCESS"
	else
		fail "no I/O queue connected with SQ flow control off (C2HData SUCCESS never used)"
	fi
}

# rpc-seed: the seed scenario of the JSON-RPC control plane.  The target
# starts empty with only its RPC socket, and is built as a storage node's
# daemon drives SPDK: TCP transport, a bdev "abcd-uuid" (a file here), the
# logical volume's subsystem, a listener on port 0 (the port it got is read
# back with nvmf_subsystem_get_listeners), the namespace.  The guest
# discovers, connects, checks Identify and does I/O.  Then the target's own
# counters must show the host's queues and commands, the file must hold
# what the guest wrote, and the namespace, subsystem and bdev go away again
# over RPC, leaving save_config with no subsystem.
test_rpc_seed() {
	local nqn=nqn.2024-01.io.excloud:storage.node.disk.lvol serial=EXC0001 model="excloud lvol"
	local uuid=5d1c3e2a-7b4f-4c8e-9a1d-2e3f4a5b6c7d img=$workdir/vol.img vol_mb=64 write_mb=8
	local sock=$workdir/rpc.sock port guest_sha head_sha stats t=0
	[ -x "$rpc" ] || die "rpc-seed needs --rpc (the nvmft-rpc client)"
	rpcj() { "$rpc" -s "$sock" -t 60 "$@"; }
	# One RPC; its result on stdout, a failed check if it fails.
	rpc_ok() {
		local out
		if out=$(rpcj "$@" 2> "$workdir/rpc.err"); then
			say "rpc $1: $(printf '%s' "$out" | tr -d ' \n' | cut -c1-120)" >&2
			printf '%s' "$out"
		else
			fail "rpc $1 failed: $(cat "$workdir/rpc.err")" >&2
			return 1
		fi
	}
	head -c $((vol_mb << 20)) /dev/zero > "$img" || die "cannot create $img"

	"$tgt" -r "$sock" --log-level debug > "$workdir/tgt.out" 2> "$workdir/tgt.err" &
	tpid[tgt]=$!
	say "target tgt (pid ${tpid[tgt]}): $tgt -r $sock --log-level debug"
	until grep -q ': ready: ' "$workdir/tgt.out"; do
		kill -0 "${tpid[tgt]}" 2>/dev/null && [ $t -lt 300 ] ||
			die "target did not start: $(cat "$workdir/tgt.err")"
		sleep 0.1
		t=$((t + 1))
	done
	rpc_ok framework_wait_init > /dev/null || die "no JSON-RPC"
	rpc_ok nvmf_create_transport '{"trtype": "TCP"}' > /dev/null &&
		rpc_ok bdev_uring_create "{\"name\": \"abcd-uuid\", \"filename\": \"$img\",
			\"uuid\": \"$uuid\"}" > /dev/null &&
		rpc_ok nvmf_create_subsystem "{\"nqn\": \"$nqn\", \"allow_any_host\": true,
			\"serial_number\": \"$serial\", \"model_number\": \"$model\"}" > /dev/null &&
		rpc_ok nvmf_subsystem_add_listener "{\"nqn\": \"$nqn\", \"listen_address\":
			{\"trtype\": \"TCP\", \"adrfam\": \"IPv4\", \"traddr\": \"127.0.0.1\",
			 \"trsvcid\": \"0\"}}" > /dev/null &&
		[ "$(rpc_ok nvmf_subsystem_add_ns "{\"nqn\": \"$nqn\",
			\"namespace\": {\"bdev_name\": \"abcd-uuid\"}}")" = 1 ] ||
		die "the seed scenario's RPCs failed"
	port=$(rpc_ok nvmf_subsystem_get_listeners "{\"nqn\": \"$nqn\"}" |
		python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["address"]["trsvcid"])')
	[ -n "$port" ] && [ "$port" != 0 ] || die "no port in nvmf_subsystem_get_listeners"
	pass "target built over JSON-RPC; the listener got port $port"

	run_guest rpc-seed.sh --env TARGET_PORT="$port" --env NQN="$nqn" --env SERIAL="$serial" \
		--env MODEL="$model" --env NS_UUID="$uuid" --env VOL_MB=$vol_mb --env WRITE_MB=$write_mb

	# The library's counters over RPC: the host's admin and I/O queues, its I/O.
	stats=$(rpc_ok nvmf_get_stats | python3 -c '
import json, sys
g = json.load(sys.stdin)["poll_groups"]
print(sum(x["admin_qpairs"] for x in g), sum(x["io_qpairs"] for x in g),
      sum(x["current_io_qpairs"] for x in g), sum(x["completed_nvme_io"] for x in g))')
	say "nvmf_get_stats: admin_qpairs io_qpairs current_io_qpairs completed_nvme_io = $stats"
	set -- $stats
	# Discovery and the connect each make an admin queue; every write of the
	# guest's ${write_mb} MiB is at least one I/O command of at most 128 KiB.
	if [ "${1:-0}" -ge 2 ] && [ "${2:-0}" -ge 1 ] && [ "${3:--1}" = 0 ] &&
		[ "${4:-0}" -ge $(((write_mb << 20) / (128 << 10) * 2)) ]; then
		pass "nvmf_get_stats counted the host's queues and I/O"
	else
		fail "nvmf_get_stats does not show the host's queues and I/O: $stats"
	fi
	guest_sha=$(tr -d '\r' < "$workdir/guest.log" | grep -ao 'E2E-VOL-SHA256=[0-9a-f]*' |
		tail -1 | cut -d= -f2)
	head_sha=$(head -c $((write_mb << 20)) "$img" | sha256sum | cut -d' ' -f1)
	if [ -n "$guest_sha" ] && [ "$guest_sha" = "$head_sha" ]; then
		pass "bdev abcd-uuid ($img) holds the ${write_mb} MiB the guest wrote"
	else
		fail "bdev abcd-uuid: $img sha256 $head_sha, guest wrote ${guest_sha:-nothing}"
	fi

	# And down again, over RPC.
	rpc_ok nvmf_subsystem_remove_ns "{\"nqn\": \"$nqn\", \"nsid\": 1}" > /dev/null &&
		rpc_ok nvmf_delete_subsystem "{\"nqn\": \"$nqn\"}" > /dev/null &&
		rpc_ok bdev_uring_delete '{"name": "abcd-uuid"}' > /dev/null &&
		pass "namespace, subsystem and bdev removed over JSON-RPC"
	if rpc_ok save_config | python3 -c '
import json, sys
c = {s["subsystem"]: s["config"] for s in json.load(sys.stdin)["subsystems"]}
m = [e["method"] for e in c["nvmf"] + c["bdev"]]
sys.exit("nvmf_create_subsystem" in m or "bdev_uring_create" in m)'; then
		pass "save_config: no subsystem or bdev left"
	else
		fail "save_config still lists the subsystem or the bdev"
	fi
	stop_target tgt
	[ ! -e "$sock" ] && pass "the RPC socket is gone after shutdown" ||
		fail "the RPC socket $sock is left behind"
}

# --- main ---------------------------------------------------------------------
case $test_name in
basic | fio-mq | digest-busypoll | rpc-seed) ;;
*) usage ;;
esac
if [ ! -f "$harness/run" ]; then
	die "the linux-host VM harness is missing: no $harness/run.  The e2e tests need it" \
		"(meson option linux_host_dir, default <source>/../shared/linux-host;" \
		"scripts/setup-deps.sh runs its ./setup)"
fi
harness=$(cd "$harness" && pwd)
[ -x "$tgt" ] || die "no nvmft-tgt at $tgt (build it: ninja -C <builddir>)"
mkdir -p "$workdir" || die "cannot create $workdir"
workdir=$(cd "$workdir" && pwd)
rm -f "$workdir"/*.out "$workdir"/*.err "$workdir"/guest.log "$workdir"/file.img \
	"$workdir"/vol.img
fio=$(command -v fio || true)
case $test_name in
fio-mq | digest-busypoll)
	[ -n "$fio" ] || die "fio is not installed on the host (the harness's ./setup installs it)" ;;
esac

say "harness $harness, target $tgt, logs in $workdir"
"test_${test_name//-/_}"
finish
