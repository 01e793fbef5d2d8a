#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# End-to-end test of nvmft-tgt's NVMe/RDMA transport against the Linux
# kernel's NVMe/RDMA host (nvme-rdma) over soft-RoCE.
#
# The host machine has no RDMA device, so both ends run inside the
# linux-host VM: this driver boots it with tests/e2e/guest/rdma.sh and
# copies in nvmft-tgt (with its libraries, libnvmft.so through its RUNPATH
# included), the rxe provider that libibverbs loads with dlopen (which
# --include's ldd cannot see) and its driver file, and fio.  The guest
# script sets up rxe0 on a guest-only veth pair, runs the targets and the
# host, and checks everything, the targets' exit status and stderr
# included; each phase prints PASS:/FAIL:.  Logs stay in WORKDIR.
#
# Usage: run-rdma.sh --harness DIR --tgt PATH --workdir DIR
# Exit status: 0 when every check passed, 1 otherwise (a missing harness,
# provider or fio is a failure, not a skip).
set -uo pipefail

harness="" tgt="" workdir=""
usage() {
	sed -n '2,18p' "$0" >&2
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
run_pid="" tail_pid=""

e2e_tag=rdma
. "$here/report.sh"

cleanup() {
	# run stops its QEMU by PID when it gets SIGTERM.
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

[ -f "$harness/run" ] || die "the linux-host VM harness is missing: no $harness/run (meson option" \
	"linux_host_dir, default <source>/../shared/linux-host; scripts/setup-deps.sh runs its ./setup)"
harness=$(cd "$harness" && pwd)
[ -x "$tgt" ] || die "no nvmft-tgt at $tgt (build it: ninja -C <builddir>)"
tgt=$(realpath -s "$tgt")
mkdir -p "$workdir" || die "cannot create $workdir"
workdir=$(cd "$workdir" && pwd)
rm -f "$workdir/guest.log"
fio=$(command -v fio || true)
[ -n "$fio" ] || die "fio is not installed on the host (the harness's ./setup installs it)"
# The rxe provider: libibverbs finds it through its driver file and dlopen().
provider=$(ls /usr/lib/*/libibverbs/librxe-rdmav*.so 2>/dev/null | head -1)
[ -n "$provider" ] && [ -f /etc/libibverbs.d/rxe.driver ] ||
	die "no soft-RoCE provider (librxe, /etc/libibverbs.d/rxe.driver): install ibverbs-providers"
ldd "$tgt" | grep -q 'not found' && die "nvmft-tgt has unresolved libraries: $(ldd "$tgt" | grep 'not found')"

say "harness $harness, target $tgt, provider $provider, logs in $workdir"
"$harness/run" "$guest_dir/rdma.sh" --timeout 600 --smp 2 --mem 1024 --include "$guest_dir" \
	--include "$tgt" --include "$provider" --include /etc/libibverbs.d/rxe.driver \
	--include "$fio" --env E2E_GUEST="$guest_dir" --env TGT="$tgt" \
	--env NQN=nqn.2024-01.io.libnvmft:e2e-rdma > "$workdir/guest.log" 2>&1 &
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
fi
case $rc in
0) pass "guest script rdma.sh: every phase passed" ;;
124) fail "guest timed out (run --timeout)" ;;
125) fail "guest died without reporting a status (kernel panic?)" ;;
*) fail "guest script rdma.sh exited $rc: failed phases: $(tr -d '\r' < "$workdir/guest.log" |
	grep -ao 'FAIL: [^ ]*' | cut -d' ' -f2 | tr '\n' ' ')" ;;
esac
finish
