#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# libnvmft's test command: install dependencies, build, run every test suite,
# then rebuild with AddressSanitizer + UBSan and run the unit and protocol
# suites again.  Ends with one line "N passed, N failed" (both passes summed)
# and exits non-zero when anything failed.
#
# Usage: scripts/test.sh [--quick] [--no-e2e] [--no-deps]
#   --quick    skip the sanitizer pass
#   --no-e2e   skip the suites that boot the Linux host VM (e2e, tools-vm)
#              and the VM preparation
#   --no-deps  do not run scripts/setup-deps.sh (needs no root then)
# Build directories: build/ (default options) and build-asan/.
set -euo pipefail

quick=0 e2e=1 deps=1
for a in "$@"; do
	case $a in
	--quick) quick=1 ;;
	--no-e2e) e2e=0 ;;
	--no-deps) deps=0 ;;
	-h | --help)
		sed -n '3,13p' "$0"
		exit 0
		;;
	*)
		echo "test.sh: unknown option $a (see --help)" >&2
		exit 2
		;;
	esac
done

cd "$(dirname "$0")/.."
repo=$(pwd)
start=$(date +%s)

# The main pass runs every suite (unit, proto, abi, fuzz replay, e2e, ...)
# unless told otherwise; the sanitizer pass names its suites: the VM runs
# would only add time there.
main_args=()
if [ $e2e = 0 ]; then
	main_args=(--no-suite e2e --no-suite tools-vm)
fi
asan_args=(--suite unit --suite proto)

step() { printf '\n==== %s (%ds)\n' "$*" $(($(date +%s) - start)); }
run() {
	printf '+ %s\n' "$*"
	"$@"
}

if [ $deps = 1 ]; then
	step "dependencies"
	if [ $e2e = 0 ]; then
		NVMFT_NO_VM=1 bash scripts/setup-deps.sh
	else
		bash scripts/setup-deps.sh
	fi
fi

# Results of each pass: "<dir> <meson test exit status>", or "<dir> build"
# when it did not build (counted as one failure).
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

test_pass() { # name, dir, timeout multiplier, meson test arguments...
	local name=$1 dir=$2 mult=$3 rc=0
	shift 3
	step "$name: build ($dir)"
	if ! run ninja -C "$dir"; then
		results+=("$dir build")
		return
	fi
	step "$name: test ${*:-(all suites)}"
	# A log of our own (meson-logs/testsh.json, same format as testlog.json):
	# a developer's concurrent "meson test" must not replace what we count.
	rm -f "$dir/meson-logs/testsh.json"
	run meson test -C "$dir" --no-rebuild --print-errorlogs --timeout-multiplier "$mult" \
		--logbase testsh "$@" || rc=$?
	results+=("$dir $rc")
}

step "configure build/"
if configure build; then
	test_pass "main" build 1 ${main_args[@]+"${main_args[@]}"}
else
	results+=("build build")
fi

if [ $quick = 0 ]; then
	step "configure build-asan/"
	# gcc: its sanitizer runtimes ship with the compiler; b_lundef=false
	# because sanitized shared objects leave runtime symbols to the program.
	if CC=${ASAN_CC:-gcc} CXX=${ASAN_CXX:-g++} configure build-asan \
		-Db_sanitize=address,undefined -Db_lundef=false; then
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
			UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
			test_pass "sanitizers" build-asan 3 "${asan_args[@]}"
	else
		results+=("build-asan build")
	fi
fi

step "summary"
python3 - "${results[@]}" <<'EOF'
import json, os, sys

passed = failed = skipped = 0
bad = []
for entry in sys.argv[1:]:
    d, status = entry.rsplit(" ", 1)
    if status == "build":
        failed += 1
        bad.append("%s: configure or build failed" % d)
        continue
    log = os.path.join(d, "meson-logs", "testsh.json")
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
                    bad.append("%s: %s %s" % (d, t.get("name"), r))
                    # meson prints only stderr of a TAP test; cmocka's
                    # failure messages are on stdout.
                    out = [l for l in (t.get("stdout") or "").splitlines()
                           if l.startswith("not ok") or l.startswith("# ")]
                    bad += ["      " + l for l in out[:20]]
    if int(status) != 0 and counts["failed"] == 0:
        # meson test failed without a failing test (no tests, an error).
        counts["failed"] += 1
        bad.append("%s: meson test exited %s" % (d, status))
    print("%s/ pass - passed %d, failed %d, skipped %d" %
          (d, counts["passed"], counts["failed"], counts["skipped"]))
    passed += counts["passed"]
    failed += counts["failed"]
    skipped += counts["skipped"]
for b in bad:
    print(b if b.startswith(" ") else "  FAILED " + b)
print("skipped %d (not counted as passed)" % skipped)
print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
EOF
