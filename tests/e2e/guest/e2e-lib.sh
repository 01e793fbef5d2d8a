# SPDX-License-Identifier: BSD-3-Clause
# Helpers for the end-to-end guest scripts (bash, inside the linux-host VM).
# Sourced after /lib/linux-host/guest-lib.sh.  The host driver (run-e2e.sh)
# copies this directory into the guest at the same path and exports E2E_GUEST.
#
# A script is a list of phases.  Each phase is a function that returns
# non-zero on the first failed check (after saying why); e2e_phase prints one
# "PASS: <phase>" or "FAIL: <phase>" line for it and goes on with the next
# one, so a single run reports every broken feature.  e2e_finish prints the
# summary and sets the exit status the host driver checks.

E2E_ADDR=${TARGET_ADDR:-10.0.2.2}
E2E_PASSED=0
E2E_FAILED=0
E2E_FAILED_NAMES=""
# A dead target must not hang the guest for the kernel's default 10 minutes
# of reconnect attempts: give up on a lost controller after 20 s.
E2E_CONNECT_OPTS=(--ctrl-loss-tmo=20 --reconnect-delay=2)

e2e_phase() { # NAME FUNCTION [ARGS...]
	local name=$1 t0 t1
	shift
	t0=$(cut -d' ' -f1 /proc/uptime)
	lh_say "=== phase $name"
	if "$@"; then
		t1=$(cut -d' ' -f1 /proc/uptime)
		lh_say "PASS: $name ($(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s)"
		E2E_PASSED=$((E2E_PASSED + 1))
	else
		lh_say "FAIL: $name"
		E2E_FAILED=$((E2E_FAILED + 1))
		E2E_FAILED_NAMES+=" $name"
	fi
}

e2e_finish() {
	lh_say "phases: $E2E_PASSED passed, $E2E_FAILED failed${E2E_FAILED_NAMES:+ (failed:$E2E_FAILED_NAMES)}"
	[ "$E2E_FAILED" = 0 ]
}

# e2e_bad MESSAGE: report a failed check and return 1 (use: ... || e2e_bad "x").
e2e_bad() {
	lh_say "  check failed: $*"
	return 1
}

# e2e_eq WHAT ACTUAL EXPECTED
e2e_eq() {
	if [ "$2" = "$3" ]; then
		lh_say "  ok: $1 = '$2'"
	else
		e2e_bad "$1: got '$2', expected '$3'"
	fi
}

# e2e_ge WHAT ACTUAL MIN (integers, decimal or 0x hex)
e2e_ge() {
	if [ -n "$2" ] && [ $(($2)) -ge $(($3)) ]; then
		lh_say "  ok: $1 = $2 (>= $3)"
	else
		e2e_bad "$1: got '$2', expected at least $3"
	fi
}

# e2e_bits WHAT VALUE MASK: every bit of MASK is set in VALUE.
e2e_bits() {
	if [ -n "$2" ] && [ $(($2 & $3)) = $(($3)) ]; then
		lh_say "  ok: $1 = $2 (has bits $3)"
	else
		e2e_bad "$1: got '$2', expected bits $3 set"
	fi
}

e2e_trim() {
	local s=$*
	s=${s#"${s%%[![:space:]]*}"}
	printf '%s' "${s%"${s##*[![:space:]]}"}"
}

# e2e_field FILE KEY: value of "KEY : value" in nvme-cli's normal output
# (the value may itself contain ':', as NQNs do).
e2e_field() {
	local line
	line=$(grep -m1 -E "^$2[[:space:]]*:" "$1") || return 1
	e2e_trim "${line#*:}"
}

e2e_sha() { sha256sum | cut -d' ' -f1; }

# e2e_read DEV OFFSET_MIB MIB: the region's bytes on stdout (O_DIRECT).
e2e_read() {
	dd if="$1" bs=1M skip="$2" count="$3" iflag=direct 2>/dev/null
}

# e2e_write_random DEV OFFSET_MIB MIB FILE: write fresh random data there
# (O_DIRECT) and keep a copy in FILE.
e2e_write_random() {
	dd if=/dev/urandom of="$4" bs=1M count="$3" 2>/dev/null || return 1
	dd if="$4" of="$1" bs=1M seek="$2" count="$3" oflag=direct conv=fsync,notrunc 2>/dev/null
}

# e2e_region_is FILE|zero DEV OFFSET_MIB MIB: the region holds FILE's bytes
# (or zeroes).
e2e_region_is() {
	local want got what=$1
	if [ "$1" = zero ]; then
		want=$(head -c $(($4 << 20)) /dev/zero | e2e_sha)
	else
		want=$(e2e_sha < "$1")
	fi
	got=$(e2e_read "$2" "$3" "$4" | e2e_sha)
	[ "$what" = zero ] || what="the written data"
	if [ "$got" = "$want" ]; then
		lh_say "  ok: $2 MiB $3..$(($3 + $4)) holds $what"
	else
		e2e_bad "$2 MiB $3..$(($3 + $4)) does not hold $what (sha256 $got, want $want)"
	fi
}

# e2e_three_mib DEV OFFSET_MIB: write a fresh random MiB at each of the three
# MiB from OFFSET_MIB; keeps them in /tmp/p0 /tmp/p1 /tmp/p2.
e2e_three_mib() {
	local i
	for i in 0 1 2; do
		e2e_write_random "$1" $(($2 + i)) 1 /tmp/p$i ||
			{ e2e_bad "write at MiB $(($2 + i)) failed"; return 1; }
	done
}

# e2e_middle_zeroed DEV OFFSET_MIB: the middle MiB of the three written by
# e2e_three_mib reads as zeroes, the others are intact.
e2e_middle_zeroed() {
	e2e_region_is /tmp/p0 "$1" "$2" 1 &&
		e2e_region_is zero "$1" $(($2 + 1)) 1 &&
		e2e_region_is /tmp/p2 "$1" $(($2 + 2)) 1
}

# e2e_connect NQN [nvme connect options...]: connect, print the block device.
e2e_connect() {
	local nqn=$1
	shift
	lh_say "+ nvme connect -t tcp -a $E2E_ADDR -s $TARGET_PORT -n $nqn ${E2E_CONNECT_OPTS[*]} $*" >&2
	nvme connect -t tcp -a "$E2E_ADDR" -s "$TARGET_PORT" -n "$nqn" "${E2E_CONNECT_OPTS[@]}" "$@" >&2 ||
		{ e2e_bad "nvme connect to $nqn failed" >&2; return 1; }
	lh_nvme_wait_ns "$nqn" 20 || { e2e_bad "no block device for $nqn" >&2; return 1; }
}

# e2e_ctrl NQN: the first controller (nvmeX) connected to subsystem NQN.
e2e_ctrl() {
	local c
	for c in /sys/class/nvme/nvme*; do
		if [ "$(cat "$c/subsysnqn" 2>/dev/null)" = "$1" ]; then
			printf '%s' "${c##*/}"
			return 0
		fi
	done
	return 1
}

# e2e_disconnect NQN: disconnect, and wait until its controllers are gone.
e2e_disconnect() {
	local i=0 c found
	lh_run nvme disconnect -n "$1" || { e2e_bad "nvme disconnect -n $1 failed"; return 1; }
	while [ $i -lt 50 ]; do
		found=0
		for c in /sys/class/nvme/nvme*; do
			[ "$(cat "$c/subsysnqn" 2>/dev/null)" = "$1" ] && found=1
		done
		[ $found = 0 ] && return 0
		sleep 0.2
		i=$((i + 1))
	done
	e2e_bad "a controller of $1 is still there 10 s after disconnecting"
}

# e2e_fio NAME FIO-ARGS...: run fio bounded by a timeout; fail on a non-zero
# status or any reported error; print the summary lines.
e2e_fio() {
	local name=$1 rc=0
	shift
	command -v fio >/dev/null || { e2e_bad "fio is not in the guest"; return 1; }
	lh_say "+ fio --name=$name $*"
	timeout 150 fio --name="$name" --output-format=normal "$@" > "/tmp/fio-$name.out" 2>&1 || rc=$?
	if [ $rc != 0 ]; then
		cat "/tmp/fio-$name.out"
		e2e_bad "fio $name exited $rc"
		return 1
	fi
	grep -E 'err=|IOPS=|verify|error|bad' "/tmp/fio-$name.out"
	if grep -E 'err= *[1-9]' "/tmp/fio-$name.out"; then
		e2e_bad "fio $name reported errors"
		return 1
	fi
	lh_say "  ok: fio $name"
}

# e2e_io_queues CTRL: I/O queues the host set up for controller CTRL.
e2e_io_queues() {
	local n
	n=$(cat "/sys/class/nvme/$1/queue_count" 2>/dev/null) || return 1
	echo $((n - 1))
}
