#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# End-to-end test "digest-busypoll" (guest side): NVMe/TCP header and data
# digests (CRC32C) against a busy-polling target, with the NVM commands that
# carry no data (Flush, Write Zeroes, Deallocate) and data kept over a
# reconnect; reads completed by C2HData SUCCESS once the host turns SQ flow
# control off; and a target that declines digests.  Started by run-e2e.sh
# with TARGET_PORT (digests allowed), NODIGEST_PORT (--no-hdgst --no-ddgst),
# NQN and E2E_GUEST; needs fio.  The namespace is 64 MiB of RAM; each phase
# keeps to its own MiB ranges.
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
	# Small writes go in the command capsule, large ones after an R2T, and
	# each read comes back in one C2HData PDU: every PDU carries its own
	# header digest, every one with data a digest over all of its data.
	e2e_fio digest-verify --filename="$dev" --direct=1 --ioengine=libaio --rw=randwrite \
		--bssplit=4k/40:16k/20:64k/20:128k/20 --iodepth=32 --numjobs=2 --size=4M \
		--offset_increment=4M --offset=16M --verify=crc32c --do_verify=1 --verify_fatal=1 \
		--group_reporting || return 1
	e2e_fio digest-randrw --filename="$dev" --direct=1 --ioengine=libaio --rw=randrw \
		--bs=4k --iodepth=32 --numjobs=2 --offset=32M --size=32M --runtime=5 \
		--time_based --group_reporting || return 1
	e2e_disconnect "$NQN"
}

# Flush, Write Zeroes and Deallocate with both digests on (their capsules
# and responses carry header digests; the DSM range list is data), then
# data written before a disconnect read back after connecting again.
nvm_commands() {
	local old
	dev=$(e2e_connect "$NQN" --hdr-digest --data-digest) || return 1
	lh_run nvme flush "$dev" || { e2e_bad "nvme flush failed"; return 1; }
	# Write Zeroes over the middle MiB of MiB 8..10 (--block-count is 0's based).
	e2e_three_mib "$dev" 8 || return 1
	lh_run nvme write-zeroes "$dev" --start-block=$((9 * 2048)) --block-count=2047 ||
		{ e2e_bad "nvme write-zeroes failed"; return 1; }
	e2e_middle_zeroed "$dev" 8 || return 1
	# Deallocate the middle MiB of MiB 11..13: the RAM backend reads it back as zeroes.
	e2e_three_mib "$dev" 11 || return 1
	lh_run nvme dsm "$dev" --ad --slbs=$((12 * 2048)) --blocks=2048 ||
		{ e2e_bad "nvme dsm --ad failed"; return 1; }
	e2e_middle_zeroed "$dev" 11 || return 1
	e2e_write_random "$dev" 24 4 /tmp/keep || { e2e_bad "write before disconnect failed"; return 1; }
	old=$dev
	e2e_disconnect "$NQN" || return 1
	[ ! -b "$old" ] || { e2e_bad "$old still exists after disconnect"; return 1; }
	dev=$(e2e_connect "$NQN" --hdr-digest --data-digest) || return 1
	e2e_region_is /tmp/keep "$dev" 24 4 || return 1
	e2e_disconnect "$NQN"
}

# With SQ flow control off (Connect CATTR bit 2) the target ends a
# successful read with C2HData SUCCESS instead of a CapsuleResp; Linux only
# ever sees that path this way.  The host driver checks that the target
# reported the queues as such.
sqflow_off() {
	dev=$(e2e_connect "$NQN" --disable-sqflow --hdr-digest --data-digest --nr-io-queues=2) ||
		return 1
	lh_dd_verify "$dev" 4 || { e2e_bad "dd verify with SQ flow control off"; return 1; }
	e2e_fio sqflow-verify --filename="$dev" --direct=1 --ioengine=libaio --rw=randwrite \
		--bssplit=4k/40:16k/20:64k/20:128k/20 --iodepth=32 --numjobs=2 --size=4M \
		--offset_increment=4M --offset=40M --verify=crc32c --do_verify=1 --verify_fatal=1 \
		--group_reporting || return 1
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
e2e_phase nvm-commands-and-reconnect nvm_commands
e2e_phase sqflow-off-c2h-success sqflow_off
e2e_phase header-digest-only digest_io "header digest only" 4 --hdr-digest
e2e_phase data-digest-only digest_io "data digest only" 4 --data-digest
e2e_phase digests-declined declined
e2e_finish
