# SPDX-License-Identifier: BSD-3-Clause
# Check reporting shared by the e2e drivers (run-e2e.sh, run-fault.sh,
# run-rdma.sh); sourced after they set e2e_tag (the name in "[e2e TAG]")
# and workdir.  pass/fail record a check; finish prints the result and
# exits 0 when no check failed, else 1; die fails and finishes at once.

say() { printf '[e2e %s] %s\n' "$e2e_tag" "$*"; }
failures=()
pass() { say "PASS: $*"; }
fail() {
	say "FAIL: $*"
	failures+=("$*")
}
finish() {
	trap - INT TERM
	if [ ${#failures[@]} = 0 ]; then
		say "RESULT: PASS ($((SECONDS)) s; logs in $workdir)"
		exit 0
	fi
	say "RESULT: FAIL (${#failures[@]} failed check(s), $((SECONDS)) s; logs in $workdir):"
	local f
	for f in "${failures[@]}"; do say "  - $f"; done
	exit 1
}
die() {
	fail "$*"
	finish
}
