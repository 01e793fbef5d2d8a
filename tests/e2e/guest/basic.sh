#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# End-to-end test "basic" (guest side): the Linux NVMe/TCP host against
# nvmft-tgt on the host.  Discovery, Identify and log pages, a dd verify,
# Flush, Write Zeroes, Deallocate (nvme dsm and blkdiscard), data surviving a
# disconnect/reconnect, Keep Alive while idle and when the host goes silent,
# and a namespace backed by a file on the host.
# Started by run-e2e.sh, which sets up the target and passes:
#   TARGET_PORT, NQN_RAM, NQN_FILE, SERIAL, MODEL, MAX_NS, NS_UUID, RAM_MB,
#   FILE_MB, FILE_WRITE_MB, FILE_TAIL_SHA, MAX_IO_KIB, E2E_GUEST
. /lib/linux-host/guest-lib.sh
. "$E2E_GUEST/e2e-lib.sh"

RAM_BLOCKS=$((RAM_MB * 2048))
dev="" ctrl=""

discovery() {
	local f=/tmp/discovery n
	lh_run nvme discover -t tcp -a "$E2E_ADDR" -s "$TARGET_PORT" > $f 2>&1 || {
		cat $f
		e2e_bad "nvme discover failed"
		return 1
	}
	cat $f
	n=$(sed -n 's/^Discovery Log Number of Records \([0-9]*\),.*/\1/p' $f)
	# The discovery subsystem itself plus the two NVM subsystems.
	e2e_eq "discovery log records" "$n" 3 || return 1
	discovery_entry $f "$NQN_RAM" || return 1
	discovery_entry $f "$NQN_FILE"
}

# discovery_entry FILE NQN: NQN's entry describes the target's listener.
discovery_entry() {
	local entry
	entry=$(awk -v nqn="$2" '
		/^=====Discovery Log Entry/ { if (hit) exit; buf = "" }
		{ buf = buf $0 "\n" }
		/^subnqn:/ && $2 == nqn { hit = 1 }
		END { if (hit) printf "%s", buf }' "$1")
	[ -n "$entry" ] || { e2e_bad "no discovery log entry for $2"; return 1; }
	printf '%s\n' "$entry" > /tmp/entry
	e2e_eq "$2 trtype" "$(e2e_field /tmp/entry trtype)" tcp &&
		e2e_eq "$2 adrfam" "$(e2e_field /tmp/entry adrfam)" ipv4 &&
		e2e_eq "$2 subtype" "$(e2e_field /tmp/entry subtype)" "nvme subsystem" &&
		e2e_eq "$2 traddr" "$(e2e_field /tmp/entry traddr)" 127.0.0.1 &&
		e2e_eq "$2 trsvcid" "$(e2e_field /tmp/entry trsvcid)" "$TARGET_PORT" &&
		e2e_eq "$2 sectype" "$(e2e_field /tmp/entry sectype)" none
}

connect_ram() {
	dev=$(e2e_connect "$NQN_RAM") || return 1
	ctrl=$(e2e_ctrl "$NQN_RAM") || { e2e_bad "no controller for $NQN_RAM"; return 1; }
	lh_say "  connected: /dev/$ctrl, namespace $dev"
	e2e_eq "controller state" "$(cat /sys/class/nvme/$ctrl/state)" live &&
		e2e_eq "transport" "$(cat /sys/class/nvme/$ctrl/transport)" tcp
}

identify() {
	local c=/tmp/id-ctrl n=/tmp/id-ns sys=/sys/class/nvme/$ctrl
	[ -n "$ctrl" ] || { e2e_bad "not connected"; return 1; }
	lh_run nvme id-ctrl "/dev/$ctrl" > $c || { e2e_bad "nvme id-ctrl failed"; return 1; }
	lh_run nvme id-ns "$dev" > $n || { e2e_bad "nvme id-ns failed"; return 1; }
	cat $c $n
	# MDTS is a power of two in units of the 4 KiB minimum page size.
	local mdts=0 units=$((MAX_IO_KIB / 4))
	while [ $units -gt 1 ]; do units=$((units / 2)); mdts=$((mdts + 1)); done
	e2e_eq "id-ctrl sn" "$(e2e_field $c sn)" "$SERIAL" &&
		e2e_eq "id-ctrl mn" "$(e2e_field $c mn)" "$MODEL" &&
		e2e_eq "id-ctrl subnqn" "$(e2e_field $c subnqn)" "$NQN_RAM" &&
		e2e_eq "id-ctrl mdts" "$(e2e_field $c mdts)" "$mdts" &&
		e2e_eq "id-ctrl nn" "$(e2e_field $c nn)" "$MAX_NS" &&
		e2e_eq "id-ctrl cntrltype (I/O controller)" "$(e2e_field $c cntrltype)" 1 &&
		e2e_eq "id-ctrl cntlid" "$(($(e2e_field $c cntlid)))" "$(cat $sys/cntlid)" &&
		e2e_ge "id-ctrl ver" "$(e2e_field $c ver)" 0x10300 &&
		e2e_bits "id-ctrl oncs (DSM, Write Zeroes)" "$(e2e_field $c oncs)" 0xc &&
		e2e_bits "id-ctrl vwc (volatile write cache)" "$(e2e_field $c vwc)" 0x1 &&
		e2e_eq "id-ctrl ioccsz (64 + 4096 in-capsule bytes, in 16s)" \
			"$(e2e_field $c ioccsz)" 260 &&
		e2e_eq "id-ctrl iorcsz" "$(e2e_field $c iorcsz)" 1 &&
		e2e_eq "id-ctrl sqes" "$(e2e_field $c sqes)" 0x66 &&
		e2e_eq "id-ctrl cqes" "$(e2e_field $c cqes)" 0x44 || return 1
	e2e_eq "sysfs serial" "$(e2e_trim "$(cat $sys/serial)")" "$SERIAL" &&
		e2e_eq "sysfs model" "$(e2e_trim "$(cat $sys/model)")" "$MODEL" &&
		e2e_eq "sysfs subsysnqn" "$(cat $sys/subsysnqn)" "$NQN_RAM" &&
		e2e_eq "sysfs sqsize (queue depth 128)" "$(cat $sys/sqsize)" 127 || return 1
	e2e_eq "id-ns nsze" "$(($(e2e_field $n nsze)))" $RAM_BLOCKS &&
		e2e_eq "id-ns ncap" "$(($(e2e_field $n ncap)))" $RAM_BLOCKS &&
		e2e_eq "id-ns flbas" "$(e2e_field $n flbas)" 0 &&
		e2e_eq "id-ns dlfeat: deallocated blocks read as zeroes" \
			"$(($(e2e_field $n dlfeat) & 7))" 1 || return 1
	grep -q '^lbaf  0 : ms:0   lbads:9  rp:0 (in use)' $n ||
		{ e2e_bad "LBA format 0 is not 512-byte blocks in use"; return 1; }
	e2e_eq "block device size (512-byte sectors)" \
		"$(cat /sys/block/${dev#/dev/}/size)" $RAM_BLOCKS &&
		e2e_eq "logical block size" \
			"$(cat /sys/block/${dev#/dev/}/queue/logical_block_size)" 512 &&
		e2e_eq "max transfer (KiB)" \
			"$(cat /sys/block/${dev#/dev/}/queue/max_hw_sectors_kb)" "$MAX_IO_KIB" &&
		e2e_eq "namespace UUID" "$(cat /sys/block/${dev#/dev/}/uuid)" "$NS_UUID"
}

# The admin log pages a host reads: SMART, firmware slot, Changed Namespace List.
logs() {
	local s=/tmp/smart zero4k
	[ -n "$ctrl" ] || { e2e_bad "not connected"; return 1; }
	lh_run nvme smart-log "/dev/$ctrl" > $s || { e2e_bad "nvme smart-log failed"; return 1; }
	cat $s
	e2e_eq "smart critical_warning" "$(e2e_field $s critical_warning)" 0 &&
		e2e_eq "smart available_spare" "$(e2e_field $s available_spare)" 100% &&
		e2e_eq "smart percentage_used" "$(e2e_field $s percentage_used)" 0% || return 1
	lh_run nvme fw-log "/dev/$ctrl" > /tmp/fw || { e2e_bad "nvme fw-log failed"; return 1; }
	cat /tmp/fw
	e2e_eq "fw-log afi (slot 1 active)" "$(e2e_field /tmp/fw afi)" 0x1 || return 1
	grep -q "($(e2e_field /tmp/id-ctrl fr)" /tmp/fw ||
		{ e2e_bad "fw-log slot 1 does not hold id-ctrl fr"; return 1; }
	# No namespace changed since the host connected: 4 KiB of zeroes.
	lh_say "+ nvme get-log /dev/$ctrl --log-id=4 --log-len=4096 --raw-binary"
	nvme get-log "/dev/$ctrl" --log-id=4 --log-len=4096 --raw-binary > /tmp/chg-ns ||
		{ e2e_bad "get-log Changed Namespace List failed"; return 1; }
	zero4k=$(head -c 4096 /dev/zero | e2e_sha)
	e2e_eq "changed-ns log length" "$(wc -c < /tmp/chg-ns)" 4096 &&
		e2e_eq "changed-ns log (all zero)" "$(e2e_sha < /tmp/chg-ns)" "$zero4k"
}

# A rejected command lands in the Error Information log and the SMART count.
error_log() {
	local e=/tmp/errlog st
	[ -n "$ctrl" ] || { e2e_bad "not connected"; return 1; }
	lh_run nvme error-log "/dev/$ctrl" --log-entries=2 > $e || { e2e_bad "nvme error-log failed"; return 1; }
	e2e_eq "error_count before any error" "$(e2e_field $e error_count)" 0 || { cat $e; return 1; }
	# Opcode 0xc1 is vendor specific: the target does not implement it.
	lh_say "+ nvme admin-passthru /dev/$ctrl --opcode=0xc1"
	if nvme admin-passthru "/dev/$ctrl" --opcode=0xc1 > /tmp/passthru 2>&1; then
		cat /tmp/passthru
		e2e_bad "admin opcode 0xc1 succeeded"
		return 1
	fi
	cat /tmp/passthru
	grep -qi 'INVALID_OPCODE\|Invalid Command Opcode' /tmp/passthru ||
		{ e2e_bad "admin opcode 0xc1 did not fail with Invalid Command Opcode"; return 1; }
	lh_run nvme error-log "/dev/$ctrl" --log-entries=2 > $e || { e2e_bad "nvme error-log failed"; return 1; }
	cat $e
	# nvme-cli prints the status field without its phase bit, "0x4001(...)":
	# DNR and the status code.
	st=$(e2e_field $e status_field)
	st=${st%%[(]*}
	e2e_eq "error log entry 0 error_count" "$(e2e_field $e error_count)" 1 &&
		e2e_eq "error log entry 0 sqid" "$(e2e_field $e sqid)" 0 &&
		e2e_eq "error log entry 0 status code" "$((st & 0xff))" 1 || return 1
	lh_run nvme smart-log "/dev/$ctrl" > /tmp/smart || { e2e_bad "nvme smart-log failed"; return 1; }
	e2e_eq "smart num_err_log_entries" "$(e2e_field /tmp/smart num_err_log_entries)" 1
}

dd_verify() {
	[ -b "$dev" ] || { e2e_bad "no namespace"; return 1; }
	lh_dd_verify "$dev" 8
}

# SMART counts what the host moved through the I/O queues: after 8 MiB
# written and read back (dd_verify, 1 MiB requests split at MDTS), at least
# 8 MiB / 512 / 1000 data units each way, and as many commands as requests.
smart_counters() {
	local s=/tmp/smart min_cmds=$((8 * 1024 / MAX_IO_KIB))
	lh_run nvme smart-log "/dev/$ctrl" > $s || { e2e_bad "nvme smart-log failed"; return 1; }
	grep -iE 'data units|host_.*commands' $s
	e2e_ge "smart data units written" "$(e2e_field $s 'Data Units Written' | cut -d' ' -f1)" 17 &&
		e2e_ge "smart data units read" "$(e2e_field $s 'Data Units Read' | cut -d' ' -f1)" 17 &&
		e2e_ge "smart host_write_commands" "$(e2e_field $s host_write_commands)" $min_cmds &&
		e2e_ge "smart host_read_commands" "$(e2e_field $s host_read_commands)" $min_cmds
}

# SMART's Data Units Written counts data of the host's write commands only
# (not, e.g., Fabrics Connect data): zero right after connecting.
smart_fresh() {
	local s=/tmp/smart
	lh_run nvme smart-log "/dev/$ctrl" > $s || { e2e_bad "nvme smart-log failed"; return 1; }
	e2e_eq "smart data units written before any write" \
		"$(e2e_field $s 'Data Units Written' | cut -d' ' -f1)" 0
}

flush() {
	lh_run nvme flush "$dev" || { e2e_bad "nvme flush failed"; return 1; }
	# A block-layer flush (fsync on the device) goes out as NVMe Flush too.
	lh_run dd if=/dev/zero of="$dev" bs=4k count=1 seek=4096 oflag=direct conv=fsync,notrunc ||
		e2e_bad "write + fsync failed"
}

write_zeroes() {
	local off=16
	e2e_three_mib "$dev" $off || return 1
	e2e_region_is /tmp/p1 "$dev" $((off + 1)) 1 || return 1
	# --block-count is zero-based: 2048 blocks of 512 bytes = 1 MiB.
	lh_run nvme write-zeroes "$dev" --start-block=$(((off + 1) * 2048)) --block-count=2047 ||
		{ e2e_bad "nvme write-zeroes failed"; return 1; }
	e2e_middle_zeroed "$dev" $off
}

# Compare (advertised in ONCS): matching data succeeds, different data fails
# with Compare Failure.  16 KiB: more than the 4 KiB in-capsule data.
compare() {
	local lba=$((48 * 2048))
	e2e_write_random "$dev" 48 1 /tmp/cmp || { e2e_bad "write failed"; return 1; }
	head -c 16384 /tmp/cmp > /tmp/cmp16k
	lh_run nvme compare "$dev" --start-block=$lba --block-count=31 --data-size=16384 \
		--data=/tmp/cmp16k || { e2e_bad "compare of identical data failed"; return 1; }
	head -c 16384 /dev/zero > /tmp/cmp16k
	lh_say "+ nvme compare $dev --start-block=$lba --block-count=31 --data-size=16384 (zeroes)"
	if nvme compare "$dev" --start-block=$lba --block-count=31 --data-size=16384 \
		--data=/tmp/cmp16k > /tmp/cmp.out 2>&1; then
		cat /tmp/cmp.out
		e2e_bad "compare of different data succeeded"
		return 1
	fi
	cat /tmp/cmp.out
	grep -qE '\(0x4?285\)' /tmp/cmp.out ||
		{ e2e_bad "different data did not fail with Compare Failure (0x285)"; return 1; }
	lh_say "  ok: Compare Failure for different data"
}

# Deallocate through nvme-cli: one 16-byte range, exactly the range list.
discard_dsm() {
	local off=24
	e2e_three_mib "$dev" $off || return 1
	lh_run nvme dsm "$dev" --ad --slbs=$(((off + 1) * 2048)) --blocks=2048 ||
		{ e2e_bad "nvme dsm --ad failed"; return 1; }
	e2e_middle_zeroed "$dev" $off
}

# Deallocate through the block layer.  Linux sends the range list in a
# 4 KiB buffer (room for 256 ranges) whatever the number of ranges, so the
# command's SGL is longer than NR+1 ranges: targets must take that.
discard_blk() {
	local off=40 max
	max=$(cat /sys/block/${dev#/dev/}/queue/discard_max_bytes)
	e2e_ge "discard_max_bytes" "$max" 1048576 || return 1
	e2e_three_mib "$dev" $off || return 1
	lh_run blkdiscard -o $(((off + 1) << 20)) -l $((1 << 20)) "$dev" ||
		{ e2e_bad "blkdiscard failed"; dmesg | tail -5; return 1; }
	e2e_middle_zeroed "$dev" $off
}

reconnect() {
	local off=32 old=$dev
	e2e_write_random "$dev" $off 4 /tmp/keep || { e2e_bad "write before disconnect failed"; return 1; }
	e2e_disconnect "$NQN_RAM" || return 1
	[ ! -b "$old" ] || { e2e_bad "$old still exists after disconnect"; return 1; }
	dev=$(e2e_connect "$NQN_RAM") || return 1
	ctrl=$(e2e_ctrl "$NQN_RAM") || { e2e_bad "no controller after reconnect"; return 1; }
	lh_say "  reconnected: /dev/$ctrl, namespace $dev"
	e2e_region_is /tmp/keep "$dev" $off 4
}

# An idle controller stays up for longer than the Keep Alive Timeout the
# target enforces (Get Features KATO, what the host asked for in Connect):
# the host's Keep Alive commands must reset the target's timer.  Had it expired, the target would drop the association and the host
# would start error recovery.
keep_alive() {
	local line kato_ms idle n0 news
	line=$(nvme get-feature "/dev/$ctrl" --feature-id=0x0f) ||
		{ e2e_bad "get-feature KATO failed"; return 1; }
	lh_say "  $line"
	kato_ms=$((${line##*:}))
	e2e_ge "KATO (ms)" "$kato_ms" 1000 || return 1
	idle=$((kato_ms / 1000 + 3))
	n0=$(dmesg | wc -l)
	lh_say "  idle for $idle s (host sends Keep Alive every few s; sysfs kato $(cat /sys/class/nvme/$ctrl/kato) s)"
	sleep $idle
	news=$(dmesg | tail -n +$((n0 + 1)))
	[ -z "$news" ] || printf '%s\n' "$news"
	if printf '%s\n' "$news" | grep -qiE 'error recovery|reconnect|keep.?alive|timeout'; then
		e2e_bad "the host saw the controller fail while idle"
		return 1
	fi
	e2e_eq "state after idling" "$(cat /sys/class/nvme/$ctrl/state)" live &&
		e2e_region_is /tmp/keep "$dev" 32 4
}

# The host goes silent (its link down) for longer than KATO: the target must
# expire the controller (run-e2e.sh looks for the notice), and when the link
# is back the host's error recovery connects a new association to the same
# data.
keep_alive_expiry() {
	local kato_ms i=0 st
	kato_ms=$(($(nvme get-feature "/dev/$ctrl" --feature-id=0x0f | sed 's/.*://')))
	lh_say "+ ip link set eth0 down; sleep $((kato_ms / 1000 + 4)); ip link set eth0 up"
	ip link set eth0 down || { e2e_bad "cannot take eth0 down"; return 1; }
	sleep $((kato_ms / 1000 + 4))
	ip link set eth0 up || { e2e_bad "cannot bring eth0 up"; return 1; }
	# Error recovery retries every reconnect_delay (2 s) for ctrl_loss_tmo.
	while [ $i -lt 150 ]; do
		st=$(cat "/sys/class/nvme/$ctrl/state" 2>/dev/null)
		if [ "$st" = live ] && dmesg | grep -q "$ctrl: Successfully reconnected"; then
			break
		fi
		sleep 0.2
		i=$((i + 1))
	done
	dmesg | grep "$ctrl:" | tail -4
	e2e_eq "state after the link came back" "$st" live || return 1
	dmesg | grep -q "$ctrl: Successfully reconnected" ||
		{ e2e_bad "the host did not reconnect"; return 1; }
	e2e_region_is /tmp/keep "$dev" 32 4
}

# Namespace 1 of NQN_FILE is a FILE_MB MiB file on the host filled with
# random bytes.  Its tail must read back as the host wrote it (FILE_TAIL_SHA);
# the head gets new data whose SHA-256 the driver compares with the file
# after the target exits (E2E-FILE-SHA256 line).
file_backend() {
	local fdev tail_mb=$((FILE_MB - FILE_WRITE_MB)) got
	fdev=$(e2e_connect "$NQN_FILE") || return 1
	e2e_eq "file namespace size (sectors)" "$(cat /sys/block/${fdev#/dev/}/size)" \
		$((FILE_MB * 2048)) || return 1
	got=$(e2e_read "$fdev" "$FILE_WRITE_MB" "$tail_mb" | e2e_sha)
	e2e_eq "sha256 of the file's tail as read through the target" "$got" "$FILE_TAIL_SHA" ||
		return 1
	e2e_write_random "$fdev" 0 "$FILE_WRITE_MB" /tmp/fpat || { e2e_bad "write failed"; return 1; }
	e2e_region_is /tmp/fpat "$fdev" 0 "$FILE_WRITE_MB" || return 1
	lh_run nvme flush "$fdev" || { e2e_bad "nvme flush failed"; return 1; }
	echo "E2E-FILE-SHA256=$(e2e_sha < /tmp/fpat)"
	e2e_disconnect "$NQN_FILE"
}

disconnect() {
	e2e_disconnect "$NQN_RAM" || return 1
	ls /sys/class/nvme/ | grep -q nvme &&
		{ e2e_bad "controllers left: $(ls /sys/class/nvme/)"; return 1; }
	true
}

modprobe nvme-tcp || lh_fail "modprobe nvme-tcp"
e2e_phase discovery discovery
e2e_phase connect connect_ram
e2e_phase smart-fresh smart_fresh
e2e_phase identify identify
e2e_phase logs logs
e2e_phase error-log error_log
e2e_phase dd-verify dd_verify
e2e_phase smart-counters smart_counters
e2e_phase flush flush
e2e_phase write-zeroes write_zeroes
e2e_phase compare compare
e2e_phase deallocate-nvme-dsm discard_dsm
e2e_phase deallocate-blkdiscard discard_blk
e2e_phase reconnect reconnect
e2e_phase keep-alive keep_alive
e2e_phase keep-alive-expiry keep_alive_expiry
e2e_phase file-backend file_backend
e2e_phase disconnect disconnect
e2e_finish
