#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# End-to-end test "digest-busypoll" (guest side): NVMe/TCP header and data
# digests (CRC32C) against a busy-polling target, and a target that declines
# them.  Started by run-e2e.sh with TARGET_PORT (digests allowed),
# NODIGEST_PORT (--no-hdgst --no-ddgst), NQN and E2E_GUEST; needs fio.
#
# Linux refuses a connection whose ICResp does not grant the digests it
# asked for, and checks every received digest it enabled, so a working
# connection with digests requested proves the target computes and checks
# them.
. /lib/linux-host/guest-lib.sh
. "$E2E_GUEST/e2e-lib.sh"

dev=""

# digest_io DESCRIPTION MIB [nvme connect options...]: connect with the given
# digest options, dd verify MIB MiB, disconnect.
digest_io() {
	local what=$1 mb=$2
	shift 2
	dev=$(e2e_connect "$NQN" "$@") || return 1
	lh_dd_verify "$dev" "$mb" || { e2e_bad "dd verify with $what"; return 1; }
	e2e_disconnect "$NQN"
}

both_digests() {
	dev=$(e2e_connect "$NQN" --hdr-digest --data-digest --nr-io-queues=2) || return 1
	lh_dd_verify "$dev" 8 || { e2e_bad "dd verify with both digests"; return 1; }
	# Small writes go in the command capsule, large ones after an R2T, reads
	# come back in several C2H PDUs: each carries its own digests.
	e2e_fio digest-verify --filename="$dev" --direct=1 --ioengine=libaio --rw=randwrite \
		--bssplit=4k/40:16k/20:64k/20:128k/20 --iodepth=32 --numjobs=2 --size=4M \
		--offset_increment=4M --offset=16M --verify=crc32c --do_verify=1 --verify_fatal=1 \
		--group_reporting || return 1
	e2e_fio digest-randrw --filename="$dev" --direct=1 --ioengine=libaio --rw=randrw \
		--bs=4k --iodepth=32 --numjobs=2 --offset=32M --size=32M --runtime=5 \
		--time_based --group_reporting || return 1
	e2e_disconnect "$NQN"
}

# refused OPTION: the host must not connect to the target that declines
# digests when OPTION asks for one, and must say why.
refused() {
	local before after
	before=$(dmesg | grep -ci 'digest mismatch')
	lh_say "+ nvme connect -t tcp -a $E2E_ADDR -s $NODIGEST_PORT -n $NQN $1"
	if nvme connect -t tcp -a "$E2E_ADDR" -s "$NODIGEST_PORT" -n "$NQN" "$1" 2>&1; then
		e2e_bad "connected with $1 to a target that declines digests"
		nvme disconnect -n "$NQN"
		return 1
	fi
	dmesg | grep -i 'digest mismatch' | tail -1
	after=$(dmesg | grep -ci 'digest mismatch')
	[ "$after" -gt "$before" ] ||
		{ e2e_bad "the host did not report a digest mismatch"; return 1; }
	lh_say "  ok: the host refused the connection"
}

declined() {
	local save=$TARGET_PORT
	refused --hdr-digest || return 1
	refused --data-digest || return 1
	# Without digests the same target works.
	TARGET_PORT=$NODIGEST_PORT
	digest_io "no digests" 2
	local rc=$?
	TARGET_PORT=$save
	return $rc
}

modprobe nvme-tcp || lh_fail "modprobe nvme-tcp"
e2e_phase header-and-data-digests both_digests
e2e_phase header-digest-only digest_io "header digest only" 4 --hdr-digest
e2e_phase data-digest-only digest_io "data digest only" 4 --data-digest
e2e_phase digests-declined declined
e2e_finish
