#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# End-to-end test "fault": nvmft-tgt with fault-injection namespaces
# (doc/faults.md) against the Linux kernel's NVMe/TCP host, one VM boot.
# Host side, as run-e2e.sh does it for the other tests: start nvmft-tgt on
# 127.0.0.1 (port 0), boot the linux-host VM with guest/fault.sh, stop the
# target with SIGTERM, then check
#   - every guest phase passed,
#   - the target exited 0 within 30 s and logged no error or warning,
#   - its debug log shows the injected statuses on namespaces 1 and 3
#     (Write Fault 0x280; Namespace Is Write Protected 0x020 DNR, as many as
#     the guest's fio counted) and none on 4.
# Logs (target stderr at --log-level debug, guest console) stay in WORKDIR.
#
# Usage: run-fault.sh --harness DIR --tgt PATH --workdir DIR
# Exit status: 0 when every check passed, 1 otherwise (a missing harness is a
# failure, not a skip).
set -uo pipefail

harness="" tgt="" workdir=""
usage() {
	sed -n '2,16p' "$0" >&2
	exit 1
}
while [ $# -gt 1 ]; do
	case $1 in
	--harness) harness=$2 ;;
	--tgt) tgt=$2 ;;
	--workdir) workdir=$2 ;;
	*) usage ;;
	esac
	shift 2
done
[ $# = 0 ] && [ -n "$harness" ] && [ -n "$tgt" ] && [ -n "$workdir" ] || usage
here=$(cd "$(dirname "$0")" && pwd)
guest_dir=$here/guest
nqn=nqn.2024-01.io.libnvmft:e2e-fault

e2e_tag=fault
. "$here/report.sh"

# Every process here is ours and is stopped by PID.
tgt_pid="" run_pid="" tail_pid=""
cleanup() {
	if [ -n "$tgt_pid" ] && kill -0 "$tgt_pid" 2>/dev/null; then
		kill -TERM "$tgt_pid" 2>/dev/null
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			kill -0 "$tgt_pid" 2>/dev/null || break
			sleep 0.5
		done
		kill -KILL "$tgt_pid" 2>/dev/null
		wait "$tgt_pid" 2>/dev/null
	fi
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

[ -f "$harness/run" ] || die "the linux-host VM harness is missing: no $harness/run" \
	"(meson option linux_host_dir; scripts/setup-deps.sh runs its ./setup)"
harness=$(cd "$harness" && pwd)
[ -x "$tgt" ] || die "no nvmft-tgt at $tgt (build it: ninja -C <builddir>)"
fio=$(command -v fio) || die "fio is not installed on the host (the harness's ./setup installs it)"
mkdir -p "$workdir" || die "cannot create $workdir"
workdir=$(cd "$workdir" && pwd)
rm -f "$workdir"/tgt.out "$workdir"/tgt.err "$workdir"/guest.log

# --- target -----------------------------------------------------------------
args=(-l tcp:127.0.0.1:0 --log-level debug -m 2 --event -n "$nqn"
	--ns "fault:ram:32M,fail=write:EIO@lba=2048-4095,nsid=1"
	--ns "fault:ram:32M,delay=any:50ms,nsid=2"
	--ns "fault:ram:32M,fail=write:EROFS@rate=0.05,fail=read:EIO@rate=0.05,seed=11,nsid=3"
	--ns "ram:32M,nsid=4")
"$tgt" "${args[@]}" > "$workdir/tgt.out" 2> "$workdir/tgt.err" &
tgt_pid=$!
say "target (pid $tgt_pid): $tgt ${args[*]}"
t=0
until grep -q ': ready: ' "$workdir/tgt.out"; do
	if ! kill -0 "$tgt_pid" 2>/dev/null || [ $t -ge 300 ]; then
		sed 's/^/    /' "$workdir/tgt.err"
		die "the target did not start (no ready line)"
	fi
	sleep 0.1
	t=$((t + 1))
done
port=$(sed -n 's/.* 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$workdir/tgt.out" | head -1)
[ -n "$port" ] || die "no port in the ready line: $(cat "$workdir/tgt.out")"
say "target ready on 127.0.0.1:$port"

# --- guest ------------------------------------------------------------------
say "guest: $harness/run fault.sh"
"$harness/run" "$guest_dir/fault.sh" --timeout 600 --include "$guest_dir" --include "$fio" \
	--env E2E_GUEST="$guest_dir" --env TARGET_PORT="$port" --env NQN="$nqn" \
	> "$workdir/guest.log" 2>&1 &
run_pid=$!
tail -n +1 -f --pid="$run_pid" "$workdir/guest.log" &
tail_pid=$!
wait "$run_pid"
rc=$?
run_pid=""
wait "$tail_pid" 2>/dev/null
tail_pid=""
if grep -q '^\[linux-host\] ERROR:' "$workdir/guest.log"; then
	fail "the VM harness failed: $(grep '^\[linux-host\] ERROR:' "$workdir/guest.log" | head -1)"
else
	case $rc in
	0) pass "guest script fault.sh: every phase passed" ;;
	124) fail "guest timed out (run --timeout)" ;;
	125) fail "guest died without reporting a status (kernel panic?)" ;;
	*) fail "guest script fault.sh exited $rc: $(grep -ao 'FAIL: [^ ]*' "$workdir/guest.log" |
		cut -d' ' -f2 | tr '\n' ' ')" ;;
	esac
fi

# --- stop and check the target ----------------------------------------------
if ! kill -0 "$tgt_pid" 2>/dev/null; then
	wait "$tgt_pid"
	fail "the target died during the test (exit status $?)"
else
	kill -TERM "$tgt_pid"
	t=0
	while kill -0 "$tgt_pid" 2>/dev/null && [ $t -lt 300 ]; do
		sleep 0.1
		t=$((t + 1))
	done
	if kill -0 "$tgt_pid" 2>/dev/null; then
		kill -KILL "$tgt_pid"
		wait "$tgt_pid" 2>/dev/null
		fail "the target did not exit within 30 s of SIGTERM (killed)"
	else
		wait "$tgt_pid"
		rc=$?
		[ "$rc" = 0 ] && pass "target exited 0 after SIGTERM" ||
			fail "target exited $rc after SIGTERM"
	fi
fi
tgt_pid=""
bad=$(grep -E '^nvmft-tgt: ((emerg|alert|crit|error|warning):|notice: .*: controller [0-9]+ of .* \(host )' \
	"$workdir/tgt.err")
if [ -n "$bad" ]; then
	fail "the target logged errors/warnings:"
	printf '%s\n' "$bad" | sed 's/^/    /'
else
	pass "the target logged no error or warning"
fi
# count PATTERN: debug lines of completions with that status.
count() { grep -cE "$1" "$workdir/tgt.err"; }
n1=$(count 'qid [1-9][0-9]* cid [0-9]+ opcode 0x01 nsid 1: status 0x280$')
n3=$(count 'qid [1-9][0-9]* cid [0-9]+ opcode 0x01 nsid 3: status 0x020 DNR$')
n4=$(count 'qid [1-9][0-9]* cid [0-9]+ opcode 0x[0-9a-f]+ nsid 4: status ')
[ "$n1" -gt 0 ] && pass "namespace 1: $n1 writes completed with Write Fault" ||
	fail "namespace 1: no write completed with Write Fault (0x280)"
[ "$n3" -gt 0 ] && pass "namespace 3: $n3 writes completed with Namespace Is Write Protected" ||
	fail "namespace 3: no write completed with Namespace Is Write Protected (0x020 DNR)"
g3=$(tr -d '\r' < "$workdir/guest.log" | grep -ao 'E2E-NS3-FAILS=[0-9]*' | tail -1 | cut -d= -f2)
[ -n "$g3" ] && [ "$g3" = "$n3" ] && pass "namespace 3: the guest saw exactly the $n3 failures" ||
	fail "namespace 3: the guest saw ${g3:-no} failures, the target made $n3"
[ "$n4" = 0 ] && pass "namespace 4: no command failed" ||
	fail "namespace 4: $n4 commands failed:" \
		"$(grep -m3 -E 'qid [1-9][0-9]* .*nsid 4: status ' "$workdir/tgt.err")"
say "target stderr: $(wc -l < "$workdir/tgt.err") lines (debug level), in $workdir/tgt.err"
finish
