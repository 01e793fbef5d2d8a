#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# End-to-end test "fio-mq" (guest side): several I/O queues, fio verify jobs
# spread over them, a mixed random load, a controller reset, then the first
# data verified again.  Started by run-e2e.sh with TARGET_PORT, NQN,
# IO_QUEUES (I/O queues to ask for) and E2E_GUEST; needs fio (--include).
. /lib/linux-host/guest-lib.sh
. "$E2E_GUEST/e2e-lib.sh"

dev="" ctrl=""
# Every job gets its own 4 MiB stripe: jobs never write the same blocks, so a
# verify failure is data corruption, not a race between jobs.  Block sizes
# from 4 KiB (in-capsule writes) to 128 KiB (R2T writes at MDTS).
VERIFY_JOB=(--direct=1 --ioengine=libaio --rw=randwrite
	--bssplit=4k/40:16k/20:64k/20:128k/20 --iodepth=32 --numjobs=4 --size=4M
	--offset_increment=4M --verify=crc32c --do_verify=1 --verify_fatal=1
	--group_reporting)

connect() {
	local cpus n
	cpus=$(grep -c ^processor /proc/cpuinfo)
	# nvme-tcp gives each CPU at most one queue of each type: ask for write
	# queues as well when the guest has fewer CPUs than queues wanted.
	if [ "$cpus" -ge "$IO_QUEUES" ]; then
		dev=$(e2e_connect "$NQN" --nr-io-queues="$IO_QUEUES") || return 1
	else
		dev=$(e2e_connect "$NQN" --nr-io-queues="$IO_QUEUES" \
			--nr-write-queues=$((IO_QUEUES - cpus))) || return 1
	fi
	ctrl=$(e2e_ctrl "$NQN") || { e2e_bad "no controller for $NQN"; return 1; }
	dmesg | grep "$ctrl:" | tail -3
	n=$(e2e_io_queues "$ctrl")
	e2e_eq "I/O queues of $ctrl (queue_count - 1)" "$n" "$IO_QUEUES"
}

fio_verify() {
	[ -b "$dev" ] || { e2e_bad "no namespace"; return 1; }
	e2e_fio verify --filename="$dev" "${VERIFY_JOB[@]}"
}

# Random reads and writes on every queue for a few seconds, on the half of
# the namespace the verify jobs did not touch.
fio_mixed() {
	e2e_fio randrw --filename="$dev" --direct=1 --ioengine=libaio --rw=randrw \
		--bs=4k --iodepth=32 --numjobs=4 --offset=64M --size=64M --runtime=8 \
		--time_based --group_reporting
}

# Controller reset: the host tears every queue down and connects them again
# (a new association on the target); I/O works afterwards.
reset_ctrl() {
	local i=0 st
	lh_say "+ echo 1 > /sys/class/nvme/$ctrl/reset_controller"
	echo 1 > "/sys/class/nvme/$ctrl/reset_controller" || { e2e_bad "reset failed"; return 1; }
	while [ $i -lt 100 ]; do
		st=$(cat "/sys/class/nvme/$ctrl/state")
		[ "$st" = live ] && break
		sleep 0.2
		i=$((i + 1))
	done
	dmesg | grep "$ctrl:" | tail -3
	e2e_eq "state after reset" "$st" live &&
		e2e_eq "I/O queues after reset" "$(e2e_io_queues "$ctrl")" "$IO_QUEUES"
}

# The verify jobs' data is still there: same jobs, read and check only
# (fio regenerates the same offsets and patterns from its fixed seeds).
fio_reverify() {
	e2e_fio reverify --filename="$dev" "${VERIFY_JOB[@]}" --verify_only
}

disconnect() {
	e2e_disconnect "$NQN"
}

modprobe nvme-tcp || lh_fail "modprobe nvme-tcp"
e2e_phase connect-queues connect
e2e_phase fio-verify fio_verify
e2e_phase fio-randrw fio_mixed
e2e_phase reset-controller reset_ctrl
e2e_phase fio-reverify fio_reverify
e2e_phase disconnect disconnect
e2e_finish
