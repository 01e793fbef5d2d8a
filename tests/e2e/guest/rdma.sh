#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# End-to-end test "rdma" (guest side): nvmft-tgt and the Linux NVMe/RDMA
# host (nvme-rdma) both inside the guest, over a soft-RoCE device (rdma_rxe)
# on a veth pair that exists only in the guest.
#
# A target with a shared receive queue per poll group (two poll group
# threads): discovery over RDMA, connect with 4 I/O queues, Identify (SGL
# support, capsule sizes), a dd write/read-back with SHA-256 compare (keyed
# SGLs: RDMA READ/WRITE, responses with remote invalidation), 4 KiB writes
# (in-capsule data), a fio crc32c verify job on every queue, a mixed
# random load, a controller reset, disconnect and reconnect with the data
# still there.  A
# second target with a receive queue per queue pair (--no-srq): connect,
# dd verify, disconnect.  Then both targets get SIGTERM and must exit 0
# with no error or warning on stderr, having served every I/O queue.
#
# Started by run-rdma.sh with TGT (nvmft-tgt's path, the same as on the
# host), NQN, E2E_GUEST, and fio, librxe and rxe.driver included.
. /lib/linux-host/guest-lib.sh
. "$E2E_GUEST/e2e-lib.sh"

ADDR=${RDMA_ADDR:-192.168.77.1}
PORT=4420
PORT2=4421
NQN2=${NQN}-norq
IO_QUEUES=4
dev="" ctrl=""
declare -A tpid=()

VERIFY_JOB=(--direct=1 --ioengine=libaio --rw=randwrite
	--bssplit=4k/40:16k/20:64k/20:128k/20 --iodepth=32 --numjobs=4 --size=4M
	--offset=64M --offset_increment=4M --verify=crc32c --do_verify=1 --verify_fatal=1
	--group_reporting)

# ---- soft-RoCE ---------------------------------------------------------------

rxe_up() {
	local m i=0
	for m in veth rdma_rxe ib_uverbs rdma_ucm nvme-rdma; do
		modprobe $m || lh_fail "modprobe $m"
	done
	ip link add lhrdma0 type veth peer name lhrdma1 || lh_fail "veth"
	ip addr add "$ADDR/24" dev lhrdma0
	ip link set lhrdma1 up && ip link set lhrdma0 up
	lh_run rdma link add rxe0 type rxe netdev lhrdma0 || lh_fail "rdma link add"
	until rdma link show rxe0/1 | grep -q 'state ACTIVE'; do
		i=$((i + 1))
		[ $i -lt 50 ] || lh_fail "rxe0 port not ACTIVE"
		sleep 0.2
	done
	rdma link show
}

# ---- targets -------------------------------------------------------------------

# start_target NAME ARGS...: nvmft-tgt in the background; wait for its ready line.
start_target() {
	local name=$1 i=0
	shift
	lh_say "+ $TGT --log-level debug $*"
	"$TGT" --log-level debug "$@" > "/tmp/$name.out" 2> "/tmp/$name.err" &
	tpid[$name]=$!
	until grep -q ': ready: ' "/tmp/$name.out"; do
		if ! kill -0 "${tpid[$name]}" 2>/dev/null || [ $i -ge 300 ]; then
			cat "/tmp/$name.err"
			e2e_bad "target $name did not start"
			return 1
		fi
		sleep 0.1
		i=$((i + 1))
	done
	cat "/tmp/$name.out"
}

# stop_target NAME: SIGTERM; exit status 0 within 30 s; no error/warning line.
stop_target() {
	local name=$1 p=${tpid[$1]} i=0 rc bad
	[ -n "$p" ] || { e2e_bad "target $name was never started"; return 1; }
	kill -TERM "$p" 2>/dev/null
	while kill -0 "$p" 2>/dev/null && [ $i -lt 300 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	if kill -0 "$p" 2>/dev/null; then
		kill -KILL "$p"
		wait "$p"
		e2e_bad "target $name did not exit within 30 s of SIGTERM"
		return 1
	fi
	wait "$p"
	rc=$?
	unset "tpid[$name]"
	lh_say "  target $name: exit status $rc, $(wc -l < "/tmp/$name.err") lines on stderr; last ones:"
	tail -n 15 "/tmp/$name.err" | sed 's/^/    /'
	e2e_eq "target $name exit status" "$rc" 0 || return 1
	bad=$(grep -E '^nvmft-tgt: ((emerg|alert|crit|error|warning):|notice: .*: controller [0-9]+ of .* \(host )' \
		"/tmp/$name.err")
	[ -z "$bad" ] || { printf '%s\n' "$bad"; e2e_bad "target $name logged errors or warnings"; return 1; }
	lh_say "  ok: target $name logged no error or warning"
}

# ---- host ----------------------------------------------------------------------

# rdma_connect NQN PORT [nvme connect options...]: print the namespace's block device.
rdma_connect() {
	local nqn=$1 port=$2
	shift 2
	lh_say "+ nvme connect -t rdma -a $ADDR -s $port -n $nqn ${E2E_CONNECT_OPTS[*]} $*" >&2
	nvme connect -t rdma -a "$ADDR" -s "$port" -n "$nqn" "${E2E_CONNECT_OPTS[@]}" "$@" >&2 ||
		{ e2e_bad "nvme connect -t rdma to $nqn failed" >&2; return 1; }
	lh_nvme_wait_ns "$nqn" 30 || { e2e_bad "no block device for $nqn" >&2; return 1; }
}

discovery() {
	local f=/tmp/discovery entry
	lh_run nvme discover -t rdma -a "$ADDR" -s "$PORT" > $f 2>&1 || {
		cat $f
		e2e_bad "nvme discover -t rdma failed"
		return 1
	}
	cat $f
	entry=$(awk -v nqn="$NQN" '
		/^=====Discovery Log Entry/ { if (hit) exit; buf = "" }
		{ buf = buf $0 "\n" }
		/^subnqn:/ && $2 == nqn { hit = 1 }
		END { if (hit) printf "%s", buf }' $f)
	[ -n "$entry" ] || { e2e_bad "no discovery log entry for $NQN"; return 1; }
	printf '%s\n' "$entry" > /tmp/entry
	e2e_eq "trtype" "$(e2e_field /tmp/entry trtype)" rdma &&
		e2e_eq "adrfam" "$(e2e_field /tmp/entry adrfam)" ipv4 &&
		e2e_eq "traddr" "$(e2e_field /tmp/entry traddr)" "$ADDR" &&
		e2e_eq "trsvcid" "$(e2e_field /tmp/entry trsvcid)" "$PORT" &&
		e2e_eq "rdma_qptype" "$(e2e_field /tmp/entry rdma_qptype)" connected &&
		e2e_eq "rdma_cms" "$(e2e_field /tmp/entry rdma_cms)" rdma-cm
}

connect() {
	local cpus
	cpus=$(grep -c ^processor /proc/cpuinfo)
	# nvme-rdma gives each CPU at most one queue of each type.
	if [ "$cpus" -ge "$IO_QUEUES" ]; then
		dev=$(rdma_connect "$NQN" "$PORT" --nr-io-queues="$IO_QUEUES") || return 1
	else
		dev=$(rdma_connect "$NQN" "$PORT" --nr-io-queues="$IO_QUEUES" \
			--nr-write-queues=$((IO_QUEUES - cpus))) || return 1
	fi
	ctrl=$(e2e_ctrl "$NQN") || { e2e_bad "no controller for $NQN"; return 1; }
	lh_say "  connected: /dev/$ctrl, namespace $dev"
	dmesg | grep "$ctrl:" | tail -3
	e2e_eq "controller state" "$(cat /sys/class/nvme/$ctrl/state)" live &&
		e2e_eq "transport" "$(cat /sys/class/nvme/$ctrl/transport)" rdma &&
		e2e_eq "I/O queues" "$(e2e_io_queues "$ctrl")" "$IO_QUEUES"
}

identify() {
	local c=/tmp/id-ctrl sgls
	nvme id-ctrl "/dev/$ctrl" > $c 2>&1 || { cat $c; e2e_bad "nvme id-ctrl failed"; return 1; }
	sgls=$(e2e_field $c sgls)
	# IOCCSZ: the 64-byte command and 4 KiB in-capsule data, in 16-byte units.
	e2e_eq "ioccsz" "$(e2e_field $c ioccsz)" 260 &&
		e2e_eq "iorcsz" "$(e2e_field $c iorcsz)" 1 &&
		e2e_eq "icdoff" "$(e2e_field $c icdoff)" 0 &&
		e2e_eq "msdbd" "$(e2e_field $c msdbd)" 1 &&
		e2e_bits "sgls (keyed data blocks, offsets)" "$sgls" $(((1 << 2) | (1 << 20))) &&
		e2e_eq "subnqn" "$(e2e_field $c subnqn)" "$NQN"
}

# 16 MiB in 1 MiB writes: keyed SGLs, RDMA READ of up to MDTS (128 KiB) each.
dd_verify() {
	[ -b "$dev" ] || { e2e_bad "no namespace"; return 1; }
	e2e_write_random "$dev" 0 16 /tmp/big || { e2e_bad "dd write failed"; return 1; }
	e2e_region_is /tmp/big "$dev" 0 16
}

# 4 KiB writes travel in the command capsule.
small_writes() {
	local want got
	dd if=/dev/urandom of=/tmp/small bs=4k count=512 2>/dev/null || return 1
	lh_say "+ dd if=/tmp/small of=$dev bs=4k seek=$((32 * 256)) count=512 oflag=direct"
	dd if=/tmp/small of="$dev" bs=4k seek=$((32 * 256)) count=512 oflag=direct \
		conv=fsync,notrunc 2>/dev/null || { e2e_bad "4 KiB writes failed"; return 1; }
	want=$(e2e_sha < /tmp/small)
	got=$(dd if="$dev" bs=4k skip=$((32 * 256)) count=512 iflag=direct 2>/dev/null | e2e_sha)
	e2e_eq "2 MiB written 4 KiB at a time, read back (sha256)" "$got" "$want"
}

fio_verify() {
	e2e_fio verify --filename="$dev" "${VERIFY_JOB[@]}"
}

fio_mixed() {
	e2e_fio randrw --filename="$dev" --direct=1 --ioengine=libaio --rw=randrw \
		--bs=4k --iodepth=16 --numjobs=4 --offset=96M --size=32M --runtime=6 \
		--time_based --group_reporting
}

# Controller reset: the host drops every queue pair and connects them again
# (new RDMA CM connections, a new association); the data is still there.
reset_ctrl() {
	local i=0 st
	lh_say "+ echo 1 > /sys/class/nvme/$ctrl/reset_controller"
	echo 1 > "/sys/class/nvme/$ctrl/reset_controller" || { e2e_bad "reset failed"; return 1; }
	while [ $i -lt 150 ]; do
		st=$(cat "/sys/class/nvme/$ctrl/state")
		[ "$st" = live ] && break
		sleep 0.2
		i=$((i + 1))
	done
	dmesg | grep "$ctrl:" | tail -3
	e2e_eq "state after reset" "$st" live &&
		e2e_eq "I/O queues after reset" "$(e2e_io_queues "$ctrl")" "$IO_QUEUES" &&
		e2e_region_is /tmp/big "$dev" 0 16
}

reconnect() {
	e2e_disconnect "$NQN" || return 1
	connect || return 1
	e2e_region_is /tmp/big "$dev" 0 16 &&
		e2e_fio reverify --filename="$dev" "${VERIFY_JOB[@]}" --verify_only
}

disconnect() {
	e2e_disconnect "$NQN"
}

# The second target: a receive queue per queue pair.
per_qpair_rq() {
	local d
	start_target norq -l "rdma:$ADDR:$PORT2" -m 1 --event --no-srq -n "$NQN2" --ns ram:32M ||
		return 1
	d=$(rdma_connect "$NQN2" "$PORT2" --nr-io-queues=2) || return 1
	e2e_write_random "$d" 0 8 /tmp/norq || { e2e_bad "dd write failed"; return 1; }
	e2e_region_is /tmp/norq "$d" 0 8 || return 1
	grep -q 'receive queue per queue pair' /tmp/norq.err ||
		{ e2e_bad "the --no-srq target did not use a receive queue per queue pair"; return 1; }
	e2e_disconnect "$NQN2"
}

stop_targets() {
	local ok=0 q missing="" inv
	stop_target tgt || ok=1
	stop_target norq || ok=1
	# Every I/O queue the host made was served (and closed).
	for q in $(seq 1 "$IO_QUEUES"); do
		grep -q "rdma: closing connection (qid $q)" /tmp/tgt.err || missing+=" $q"
	done
	[ -z "$missing" ] || { e2e_bad "the target never closed I/O queue(s)$missing"; ok=1; }
	# Linux registers its buffers per I/O and asks for remote invalidation.
	inv=$(sed -n 's/.*rdma: closing connection (qid [1-9][0-9]*): .*(\([0-9]*\) responses with remote invalidation).*/\1/p' \
		/tmp/tgt.err | awk '{ s += $1 } END { print s + 0 }')
	e2e_ge "responses sent with remote invalidation" "$inv" 1 || ok=1
	return $ok
}

host_log() {
	local bad
	bad=$(dmesg | grep -Ei 'Bogus remote invalidation|I/O error|nvme.*(error|failed)' |
		grep -v 'Removing ctrl')
	[ -z "$bad" ] || { printf '%s\n' "$bad"; e2e_bad "the host kernel logged errors"; return 1; }
	lh_say "  ok: no I/O or RDMA error in the host kernel's log"
}

rxe_up
e2e_phase target-start start_target tgt -l "rdma:$ADDR:$PORT" -m 2 --event -n "$NQN" --ns ram:128M
e2e_phase discovery discovery
e2e_phase connect connect
e2e_phase identify identify
e2e_phase dd-verify dd_verify
e2e_phase small-writes small_writes
e2e_phase fio-verify fio_verify
e2e_phase fio-randrw fio_mixed
e2e_phase reset-controller reset_ctrl
e2e_phase reconnect reconnect
e2e_phase disconnect disconnect
e2e_phase no-srq per_qpair_rq
e2e_phase stop-targets stop_targets
e2e_phase host-log host_log
for p in "${tpid[@]}"; do kill -KILL "$p" 2>/dev/null; done
e2e_finish
