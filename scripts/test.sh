#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# libnvmft's test command: install dependencies, build, run every test suite,
# run the unit and protocol suites again under valgrind memcheck, then
# rebuild with AddressSanitizer + UBSan and run the unit, protocol,
# examples, fuzz-replay and soak suites again.  Ends with one line
# "N passed, N failed" (all passes summed) and exits non-zero when anything
# failed.
#
# Usage: scripts/test.sh [--quick] [--no-e2e] [--no-deps] [--no-valgrind]
#   --quick        skip the valgrind and sanitizer passes
#   --no-e2e       skip the suites that boot the Linux host VM (e2e, tools-vm)
#                  and the VM preparation
#   --no-deps      do not run scripts/setup-deps.sh (needs no root then)
#   --no-valgrind  skip the valgrind pass only
# Build directories: build/ (default options; also the valgrind pass) and
# build-asan/.
set -euo pipefail

quick=0 e2e=1 deps=1 vg=1
for a in "$@"; do
	case $a in
	--quick) quick=1 ;;
	--no-e2e) e2e=0 ;;
	--no-deps) deps=0 ;;
	--no-valgrind) vg=0 ;;
	-h | --help)
		sed -n '3,17p' "$0"
		exit 0
		;;
	*)
		echo "test.sh: unknown option $a (see --help)" >&2
		exit 2
		;;
	esac
done

cd "$(dirname "$0")/.."
start=$(date +%s)

# The main pass runs every suite (unit, proto, abi, fuzz replay, soak, e2e,
# ...) unless told otherwise; the checking passes name their suites: the VM
# runs would only add time there.
main_args=()
if [ $e2e = 0 ]; then
	main_args=(--no-suite e2e --no-suite tools-vm)
fi
asan_args=(--suite unit --suite proto --suite examples --suite fuzz --suite soak)
vg_suites=(unit proto)
# Left out of the valgrind pass, and why (both run in the other passes):
# - backends_uring: the kernel fills read buffers through io_uring, which
#   memcheck cannot see, so every check of data read back is reported as
#   depending on uninitialised bytes;
# - backends_malloc: test_create_large_lazy reserves 64 GiB (MAP_NORESERVE),
#   more address space than valgrind's manager hands out, so it fails.
vg_skip=(backends_uring backends_malloc)
vg_wrapper="valgrind --leak-check=full --error-exitcode=9 --errors-for-leak-kinds=definite,indirect"

step() { printf '\n==== %s (%ds)\n' "$*" $(($(date +%s) - start)); }
run() {
	printf '+ %s\n' "$*"
	"$@"
}

# Seconds each part took, for the summary: "name seconds".
timings=()
timed() { # name, command...
	local name=$1 t0 rc=0
	shift
	t0=$(date +%s)
	"$@" || rc=$?
	timings+=("$name $(($(date +%s) - t0))")
	return $rc
}

if [ $deps = 1 ]; then
	step "dependencies"
	if [ $e2e = 0 ]; then
		timed deps env NVMFT_NO_VM=1 bash scripts/setup-deps.sh
	else
		timed deps bash scripts/setup-deps.sh
	fi
fi

# Results of each pass: "<dir> <log base> <meson test exit status>", or
# "<dir> <log base> build" when it did not build (counted as one failure).
results=()

configure() { # dir, options...
	local dir=$1
	shift
	if [ -f "$dir/meson-private/coredata.dat" ]; then
		run meson setup --reconfigure "$dir" "$@"
	else
		run meson setup "$dir" "$@"
	fi
}

build() { # dir, log base
	step "build $1"
	if ! run ninja -C "$1"; then
		results+=("$1 $2 build")
		return 1
	fi
}

test_pass() { # name, dir, log, timeout multiplier, meson test arguments...
	local name=$1 dir=$2 log=$3 mult=$4 rc=0
	shift 4
	step "$name: test ${*:-(all suites)}"
	# A log of our own (meson-logs/testsh.json, same format as testlog.json):
	# a developer's concurrent "meson test" must not replace what we count.
	# With a wrapper meson names it testsh-<wrapper>.json: @log says which.
	rm -f "$dir/meson-logs/$log.json"
	run meson test -C "$dir" --no-rebuild --print-errorlogs --timeout-multiplier "$mult" \
		--logbase testsh "$@" || rc=$?
	results+=("$dir $log $rc")
}

vg_suite_args=()
for s in "${vg_suites[@]}"; do
	vg_suite_args+=(--suite "$s")
done

# The names of the tests of vg_suites in @dir, minus those in vg_skip.
vg_tests() { # dir
	meson test -C "$1" --no-rebuild --list "${vg_suite_args[@]}" 2>/dev/null |
		sed -n 's/^[^ ]* \/ //p' | while read -r t; do
		case " ${vg_skip[*]} " in
		*" $t "*) ;;
		*) echo "$t" ;;
		esac
	done
}

valgrind_pass() {
	local vg_list=()
	if ! command -v valgrind >/dev/null; then
		echo "test.sh: valgrind is not installed (scripts/setup-deps.sh installs it)" >&2
		results+=("build testsh-valgrind build")
		return
	fi
	mapfile -t vg_list < <(vg_tests build)
	if [ ${#vg_list[@]} = 0 ]; then
		echo "test.sh: no tests to run under valgrind" >&2
		results+=("build testsh-valgrind build")
		return
	fi
	# Names and suites together select their intersection.  Valgrind runs
	# 10-50 times slower; on failure meson prints its report (stderr).
	timed valgrind test_pass "valgrind" build testsh-valgrind 10 --wrapper "$vg_wrapper" \
		"${vg_suite_args[@]}" "${vg_list[@]}"
}

step "configure build/"
if configure build; then
	if timed build build build testsh; then
		timed main test_pass "main" build testsh 1 ${main_args[@]+"${main_args[@]}"}
		if [ $quick = 0 ] && [ $vg = 1 ]; then
			valgrind_pass
		fi
	fi
else
	results+=("build testsh build")
fi

if [ $quick = 0 ]; then
	step "configure build-asan/"
	# gcc: its sanitizer runtimes ship with the compiler; b_lundef=false
	# because sanitized shared objects leave runtime symbols to the program.
	if CC=${ASAN_CC:-gcc} CXX=${ASAN_CXX:-g++} configure build-asan \
		-Db_sanitize=address,undefined -Db_lundef=false; then
		if timed build-asan build build-asan testsh; then
			ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
				UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
				timed sanitizers test_pass "sanitizers" build-asan testsh 3 "${asan_args[@]}"
		fi
	else
		results+=("build-asan testsh build")
	fi
fi

step "summary"
python3 - "$(($(date +%s) - start))" "${timings[@]+"${timings[@]}"}" -- "${results[@]}" <<'EOF'
import json, os, sys

args = sys.argv[1:]
total = args.pop(0)
sep = args.index("--")
timings, results = args[:sep], args[sep + 1:]
passed = failed = skipped = 0
bad = []
for entry in results:
    d, base, status = entry.rsplit(" ", 2)
    name = "%s/ (%s)" % (d, "valgrind" if base.endswith("valgrind") else "pass")
    if status == "build":
        failed += 1
        bad.append("%s: configure or build failed" % name)
        continue
    log = os.path.join(d, "meson-logs", base + ".json")
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    if os.path.exists(log):
        with open(log) as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                t = json.loads(line)
                r = t.get("result")
                if r in ("OK", "EXPECTEDFAIL"):
                    counts["passed"] += 1
                elif r == "SKIP":
                    counts["skipped"] += 1
                else:
                    counts["failed"] += 1
                    bad.append("%s: %s %s" % (name, t.get("name"), r))
                    # meson prints only stderr of a TAP test; cmocka's
                    # failure messages are on stdout.
                    out = [l for l in (t.get("stdout") or "").splitlines()
                           if l.startswith("not ok") or l.startswith("# ")]
                    bad += ["      " + l for l in out[:20]]
    if int(status) != 0 and counts["failed"] == 0:
        # meson test failed without a failing test (no tests, an error).
        counts["failed"] += 1
        bad.append("%s: meson test exited %s" % (name, status))
    print("%s - passed %d, failed %d, skipped %d" %
          (name, counts["passed"], counts["failed"], counts["skipped"]))
    passed += counts["passed"]
    failed += counts["failed"]
    skipped += counts["skipped"]
for b in bad:
    print(b if b.startswith(" ") else "  FAILED " + b)
print("time: " + ", ".join("%s %ss" % tuple(t.split(" ")) for t in timings) +
      (", " if timings else "") + "total %ss" % total)
print("skipped %d (not counted as passed)" % skipped)
print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
EOF
