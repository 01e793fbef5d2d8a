#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# End-to-end test "rpc-seed" (guest side): the seed scenario of nvmft-tgt's
# JSON-RPC control plane.  The host driver built the target the way a
# storage node's daemon drives SPDK (nvmf_create_transport,
# nvmf_create_subsystem, nvmf_subsystem_add_listener, nvmf_subsystem_add_ns
# over the RPC socket, the namespace backed by bdev "abcd-uuid", a file on
# the host); here the Linux host finds it through discovery, connects,
# checks what Identify says against the RPC parameters, and does I/O.
# Started by run-e2e.sh with TARGET_PORT, NQN, SERIAL, MODEL, NS_UUID,
# VOL_MB, WRITE_MB, E2E_GUEST.
. /lib/linux-host/guest-lib.sh
. "$E2E_GUEST/e2e-lib.sh"

dev="" ctrl=""

discovery() {
	local f=/tmp/discovery entry
	lh_run nvme discover -t tcp -a "$E2E_ADDR" -s "$TARGET_PORT" > $f 2>&1 || {
		cat $f
		e2e_bad "nvme discover failed"
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
	e2e_eq "trtype" "$(e2e_field /tmp/entry trtype)" tcp &&
		e2e_eq "subtype" "$(e2e_field /tmp/entry subtype)" "nvme subsystem" &&
		e2e_eq "trsvcid (the port the RPC listener got)" \
			"$(e2e_field /tmp/entry trsvcid)" "$TARGET_PORT"
}

connect() {
	dev=$(e2e_connect "$NQN") || return 1
	ctrl=$(e2e_ctrl "$NQN") || { e2e_bad "no controller for $NQN"; return 1; }
	lh_say "  connected: /dev/$ctrl, namespace $dev"
	e2e_eq "controller state" "$(cat /sys/class/nvme/$ctrl/state)" live
}

identify() {
	local c=/tmp/id-ctrl n=/tmp/id-ns blocks=$((VOL_MB * 2048))
	[ -n "$ctrl" ] || { e2e_bad "not connected"; return 1; }
	lh_run nvme id-ctrl "/dev/$ctrl" > $c || { e2e_bad "nvme id-ctrl failed"; return 1; }
	lh_run nvme id-ns "$dev" > $n || { e2e_bad "nvme id-ns failed"; return 1; }
	# What nvmf_create_subsystem and bdev_uring_create said.
	e2e_eq "id-ctrl sn" "$(e2e_field $c sn)" "$SERIAL" &&
		e2e_eq "id-ctrl mn" "$(e2e_field $c mn)" "$MODEL" &&
		e2e_eq "id-ctrl subnqn" "$(e2e_field $c subnqn)" "$NQN" &&
		e2e_eq "id-ns nsze" "$(($(e2e_field $n nsze)))" $blocks &&
		e2e_eq "nsid" "$(cat /sys/block/${dev#/dev/}/nsid)" 1 &&
		e2e_eq "namespace UUID (the bdev's)" "$(cat /sys/block/${dev#/dev/}/uuid)" "$NS_UUID"
}

io() {
	[ -b "$dev" ] || { e2e_bad "no namespace"; return 1; }
	e2e_write_random "$dev" 0 "$WRITE_MB" /tmp/vol || { e2e_bad "write failed"; return 1; }
	e2e_region_is /tmp/vol "$dev" 0 "$WRITE_MB" || return 1
	lh_run nvme flush "$dev" -n 1 || { e2e_bad "flush failed"; return 1; }
	# The host driver checks the file on the host against this.
	echo "E2E-VOL-SHA256=$(e2e_sha < /tmp/vol)"
}

disconnect() {
	e2e_disconnect "$NQN"
}

modprobe nvme-tcp || lh_fail "modprobe nvme-tcp"
e2e_phase discovery discovery
e2e_phase connect connect
e2e_phase identify identify
e2e_phase io io
e2e_phase disconnect disconnect
e2e_finish
