#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# End-to-end test "fault" (guest side): the Linux NVMe/TCP host against
# nvmft-tgt serving fault-injection namespaces (doc/faults.md), all four on
# one subsystem, so on the same controller and the same I/O queues:
#   1  fault:ram, writes to LBAs 2048..4095 (MiB 1..2) fail with EIO
#   2  fault:ram, every command delayed 50 ms
#   3  fault:ram, writes fail with EROFS (Namespace Is Write Protected, DNR:
#      no retry, so the host sees each) and reads with EIO, each at 5 %
#   4  plain ram
# Checks: the failing writes reach dd and fio as I/O errors and dmesg shows
# the NVMe status (Write Fault: sct 0x2 / sc 0x80), the rest of namespace 1
# works; fio verify completes on the slow namespace; fio verify on namespace
# 4 sees no error while namespace 3 fails at a rate next to it.
# Started by run-fault.sh with TARGET_PORT, NQN, E2E_GUEST; needs fio.
. /lib/linux-host/guest-lib.sh
. "$E2E_GUEST/e2e-lib.sh"

declare -A dev=()

# ns_dev NSID: the block device of namespace NSID of $NQN (multipath head).
ns_dev() {
	local b
	for b in /sys/block/nvme*; do
		case ${b##*/} in *c*n*) continue ;; esac
		[ "$(cat "$b/device/subsysnqn" 2>/dev/null)" = "$NQN" ] || continue
		if [ "$(cat "$b/nsid" 2>/dev/null)" = "$1" ]; then
			echo "/dev/${b##*/}"
			return 0
		fi
	done
	return 1
}

connect() {
	local n i
	e2e_connect "$NQN" --nr-io-queues=2 > /dev/null || return 1
	for n in 1 2 3 4; do
		i=0
		until dev[$n]=$(ns_dev $n); do
			i=$((i + 1))
			[ $i -lt 100 ] || { e2e_bad "no block device for namespace $n"; return 1; }
			sleep 0.2
		done
		lh_say "  namespace $n: ${dev[$n]}"
	done
}

# Writes into the failing range: dd reports the error, dmesg the NVMe status.
# (Linux turns Write Fault, a media error, into ENODATA for the caller.)
write_fault_dd() {
	local out rc
	dmesg -c > /dev/null
	out=$(dd if=/dev/urandom of="${dev[1]}" bs=1M seek=1 count=1 oflag=direct 2>&1)
	rc=$?
	lh_say "  dd: exit $rc: $(printf '%s' "$out" | head -2 | tr '\n' ' ')"
	[ $rc != 0 ] || { e2e_bad "dd into the failing range succeeded"; return 1; }
	printf '%s' "$out" | grep -q 'error writing' ||
		{ e2e_bad "dd did not report a write error"; return 1; }
	dmesg | grep -E 'nvme|I/O error|medium' | tail -8
	dmesg | grep -q 'sct 0x2 / sc 0x80' ||
		{ e2e_bad "dmesg shows no Write Fault status (sct 0x2 / sc 0x80)"; return 1; }
	lh_say "  ok: dmesg shows the Write Fault status"
}

# fio writing over the failing range reports errors (and does not hang).
write_fault_fio() {
	local rc=0 f=/tmp/fio-fault.out
	lh_say "+ fio write over MiB 0..3 of namespace 1 (MiB 1..2 fails)"
	timeout 120 fio --name=fault --filename="${dev[1]}" --direct=1 --ioengine=libaio \
		--rw=write --bs=64k --iodepth=8 --size=3M --continue_on_error=all \
		--output-format=normal > $f 2>&1 || rc=$?
	grep -E 'err=|error' $f | head -5
	[ $rc != 124 ] || { e2e_bad "fio timed out"; return 1; }
	grep -qE 'err= *[1-9]|io_u error' $f ||
		{ cat $f; e2e_bad "fio reported no error writing into the failing range"; return 1; }
	lh_say "  ok: fio reported the write errors"
}

# The rest of namespace 1 (and reads of the failing range) work.
healthy_part() {
	local a b
	lh_run dd if=/dev/urandom of=/tmp/p bs=1M count=1 2>/dev/null
	dd if=/tmp/p of="${dev[1]}" bs=1M seek=4 count=1 oflag=direct 2>&1 ||
		{ e2e_bad "write outside the failing range failed"; return 1; }
	a=$(e2e_sha < /tmp/p)
	b=$(e2e_read "${dev[1]}" 4 1 | e2e_sha)
	e2e_eq "data outside the failing range" "$b" "$a" || return 1
	e2e_read "${dev[1]}" 1 1 > /dev/null || { e2e_bad "reading the failing range failed"; return 1; }
	lh_say "  ok: reads of the failing range work"
}

# 50 ms per command, and still correct.
slow_fio() {
	e2e_fio slow-verify --filename="${dev[2]}" --direct=1 --ioengine=libaio --rw=randwrite \
		--bssplit=4k/50:64k/50 --iodepth=16 --size=2M --verify=crc32c --do_verify=1 \
		--verify_fatal=1
}

# job_section JOB FILE: the lines of fio's report about JOB.
job_section() {
	awk -v j="$1" '$1 == j ":" && /groupid=/ { on = 1; print; next }
		/^ *[a-z]+: \(groupid=/ { on = 0 } on' "$2"
}

# Namespace 3 fails at a rate while namespace 4 (same queues) is verified next
# to it: one fio process with a job on each (fork-heavy loops starve a TCG
# guest enough to miss keep-alives).
neighbour() {
	local fails rc=0 f=/tmp/fio-neighbour.out
	lh_say "+ fio: writes on namespace 3, verify on namespace 4, at the same time"
	timeout 150 fio --output-format=normal --direct=1 --ioengine=libaio --rw=randwrite \
		--name=faulty --filename="${dev[3]}" --bs=4k --iodepth=8 --size=4M \
		--continue_on_error=all \
		--name=neighbour --filename="${dev[4]}" --bs=4k --iodepth=16 --size=8M \
		--verify=crc32c --do_verify=1 --verify_fatal=1 > $f 2>&1 || rc=$?
	grep -E '^ *(faulty|neighbour):|IOPS|verify' $f
	[ $rc != 124 ] || { e2e_bad "fio timed out"; return 1; }
	# With continue_on_error fio counts the errors of a job: "errors : total=N, ...".
	fails=$(job_section faulty $f | sed -n 's/^ *errors *: total=\([0-9]*\),.*/\1/p')
	lh_say "  namespace 3: ${fails:-0} of 1024 writes failed"
	# The host compares this with the failures the target logged (DNR: no retries).
	lh_say "E2E-NS3-FAILS=${fails:-0}"
	[ "${fails:-0}" -gt 0 ] ||
		{ cat $f; e2e_bad "no write on namespace 3 failed (rate 5 %)"; return 1; }
	[ "$fails" -lt 1024 ] || { e2e_bad "every write on namespace 3 failed"; return 1; }
	if job_section neighbour $f | grep -qE '^ *errors *:|verify.*(bad|fail)' ||
		! grep -qE '^ *neighbour: .*err= *0' $f; then
		cat $f
		e2e_bad "fio on namespace 4 saw errors"
		return 1
	fi
	lh_say "  ok: namespace 4 unaffected"
}

# The controller went through all of it without a reset or a reconnect.
still_live() {
	local c
	c=$(e2e_ctrl "$NQN") || { e2e_bad "no controller"; return 1; }
	e2e_eq "controller state" "$(cat /sys/class/nvme/$c/state)" live || return 1
	if dmesg | grep -E "nvme $c: .*([Rr]eset|[Rr]econnect|timeout)"; then
		e2e_bad "the controller was reset"
		return 1
	fi
}

modprobe nvme-tcp || lh_fail "modprobe nvme-tcp"
e2e_phase connect connect
e2e_phase write-fault-dd write_fault_dd
e2e_phase write-fault-fio write_fault_fio
e2e_phase healthy-part healthy_part
e2e_phase slow-50ms-fio slow_fio
e2e_phase neighbour-unaffected neighbour
e2e_phase still-live still_live
e2e_phase disconnect e2e_disconnect "$NQN"
e2e_finish
