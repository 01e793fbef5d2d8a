#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# libnvmft's test command: install dependencies, build, and run four passes:
#   main        every test suite, gcc, default options (build/);
#   valgrind    memcheck over the same build: unit, proto, abi, stress,
#               fuzz replay, examples and vfio_user (build/);
#   sanitizers  gcc with AddressSanitizer + UBSan: every suite but the VM
#               ones (build-asan/);
#   clang-fuzz  clang with -Dfuzz=true: a -Werror build of everything with
#               clang, the unit, proto and fuzz replay suites, and each
#               libFuzzer target for a short fixed time (build-fuzz/).
# Ends with one line "N passed, N failed" (all passes summed) and exits
# non-zero when anything failed.
#
# Usage: scripts/test.sh [--quick] [--no-e2e] [--no-deps] [--no-valgrind] [--no-fuzz]
#   --quick        only the main pass
#   --no-e2e       skip the suites that boot the Linux host VM (e2e, tools-vm)
#                  and the VM preparation
#   --no-deps      do not run scripts/setup-deps.sh (needs no root then)
#   --no-valgrind  skip the valgrind pass only
#   --no-fuzz      skip the clang-fuzz pass only
# Env: NVMFT_BUILD_PREFIX=P  build directories P, P-asan and P-fuzz
#                            (default: build, build-asan, build-fuzz)
set -euo pipefail

quick=0 e2e=1 deps=1 vg=1 fuzz=1
for a in "$@"; do
	case $a in
	--quick) quick=1 ;;
	--no-e2e) e2e=0 ;;
	--no-deps) deps=0 ;;
	--no-valgrind) vg=0 ;;
	--no-fuzz) fuzz=0 ;;
	-h | --help)
		sed -n '3,23p' "$0"
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

prefix=${NVMFT_BUILD_PREFIX:-build}
case $prefix in
'' | */* | -*)
	echo "test.sh: NVMFT_BUILD_PREFIX must be a plain directory name" >&2
	exit 2
	;;
esac
main_dir=$prefix asan_dir=$prefix-asan fuzz_dir=$prefix-fuzz

# Which suites each pass runs, and why the others are left out of it.
#
# main: everything defined (fuzz-run is defined only with -Dfuzz=true).
main_args=()
if [ $e2e = 0 ]; then
	main_args=(--no-suite e2e --no-suite tools-vm)
fi
# valgrind (memcheck, 10-50 times slower).  Left out:
# - soak: its phases last a fixed wall-clock time and fail when an answer
#   takes 10 s or a kind of fault never happened, which is what valgrind's
#   slowdown and serialised threads do to it; and its io_uring phase sends
#   data the kernel wrote, which memcheck reports as uninitialised (the
#   reason backends_uring is skipped below);
# - tools: each run moves 1,000-20,000 I/Os between nvmft-perf and
#   nvmft-tgt, started by bash: traced, that is 80 s a run, and memcheck
#   reports bash's own leaks; the sanitizer pass runs them;
# - e2e, tools-vm: the Linux host VM, minutes per test; the target there is
#   the main pass's nvmft-tgt, which examples runs under valgrind.
# --trace-children checks what tests start (nvmft-tgt in examples and
# vfu_tgt, vfu-perf, the children of the fuzz replay's --expect-crash); -q
# keeps valgrind's banner off the stderr those tests check.
# vfio_user costs about 20 s of this pass on 2 cores (vfu_tgt, which
# traces nvmft-tgt and vfu-perf, is most of it); the fuzz replays of the
# rdma and vfio_user corpora about 2 s.
vg_suites=(unit proto abi stress fuzz examples vfio_user)
# Tests of those suites left out of the valgrind pass, and why (all of them
# run in the other passes):
# - symbols, kerneldoc, abidiff: Python scripts that read the headers and
#   the built library and run none of it; traced, memcheck would check the
#   Python interpreter;
# - backends_uring: the kernel fills read buffers through io_uring, which
#   memcheck cannot see, so every check of data read back is reported as
#   depending on uninitialised bytes;
# - backends_malloc: test_create_large_lazy reserves 64 GiB (MAP_NORESERVE),
#   more address space than valgrind's manager hands out, so it fails;
# - vfu_mem: its last case forks a target that must die of SIGBUS on 32 MiB
#   of client memory truncated under it; memcheck then scans that mapping
#   for leaks and faults on every page: a minute or more (the whole rest
#   of the suite takes less), for a process that is meant to crash.
vg_skip=(symbols kerneldoc abidiff backends_uring backends_malloc vfu_mem)
vg_wrapper="valgrind -q --trace-children=yes --leak-check=full --error-exitcode=9"
vg_wrapper+=" --errors-for-leak-kinds=definite,indirect"
# sanitizers (ASan + UBSan, gcc).  Left out: e2e and tools-vm, as for
# valgrind (minutes of VM per test).
asan_args=(--suite unit --suite proto --suite abi --suite stress --suite examples --suite fuzz
	--suite soak --suite tools --suite vfio_user)
# clang-fuzz.  Building it is a clang -Werror check of every target.  The
# suites it runs: fuzz-run (the reason for the pass), and unit, proto and
# fuzz replay, seconds each, to run the clang-compiled library.  Left out:
# abi, stress, examples, soak, tools, e2e, tools-vm: the same code as
# compiled by gcc runs them in the passes above (e2e is not even defined
# here: -De2e=disabled).
fuzz_args=(--suite unit --suite proto --suite fuzz --suite fuzz-run)

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

# Results of each pass: "<pass> <dir> <log base> <meson test exit status>",
# or "<pass> <dir> <log base> build" when it did not build (counted as one
# failure).
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

build() { # pass, dir, log base
	step "build $2"
	if ! run ninja -C "$2"; then
		results+=("$1 $2 $3 build")
		return 1
	fi
}

test_pass() { # pass, dir, log, timeout multiplier, meson test arguments...
	local name=$1 dir=$2 log=$3 mult=$4 rc=0
	shift 4
	step "$name: test ${*:-(all suites)}"
	# A log of our own (meson-logs/testsh.json, same format as testlog.json):
	# a developer's concurrent "meson test" must not replace what we count.
	# With a wrapper meson names it testsh-<wrapper>.json: @log says which.
	rm -f "$dir/meson-logs/$log.json"
	run meson test -C "$dir" --no-rebuild --print-errorlogs --timeout-multiplier "$mult" \
		--logbase testsh "$@" || rc=$?
	results+=("$name $dir $log $rc")
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
		results+=("valgrind $main_dir testsh-valgrind build")
		return
	fi
	mapfile -t vg_list < <(vg_tests "$main_dir")
	if [ ${#vg_list[@]} = 0 ]; then
		echo "test.sh: no tests to run under valgrind" >&2
		results+=("valgrind $main_dir testsh-valgrind build")
		return
	fi
	# Names and suites together select their intersection.  On failure
	# meson prints the test's stderr, which has valgrind's report.
	timed valgrind test_pass valgrind "$main_dir" testsh-valgrind 10 --wrapper "$vg_wrapper" \
		"${vg_suite_args[@]}" "${vg_list[@]}"
}

step "configure $main_dir/"
if configure "$main_dir"; then
	if timed build build main "$main_dir" testsh; then
		timed main test_pass main "$main_dir" testsh 1 ${main_args[@]+"${main_args[@]}"}
		if [ $quick = 0 ] && [ $vg = 1 ]; then
			valgrind_pass
		fi
	fi
else
	results+=("main $main_dir testsh build")
fi

if [ $quick = 0 ]; then
	step "configure $asan_dir/"
	# gcc: its sanitizer runtimes ship with the compiler; b_lundef=false
	# because sanitized shared objects leave runtime symbols to the program.
	if CC=${ASAN_CC:-gcc} CXX=${ASAN_CXX:-g++} configure "$asan_dir" \
		-Db_sanitize=address,undefined -Db_lundef=false; then
		if timed build-asan build sanitizers "$asan_dir" testsh; then
			ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
				UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
				timed sanitizers test_pass sanitizers "$asan_dir" testsh 3 "${asan_args[@]}"
		fi
	else
		results+=("sanitizers $asan_dir testsh build")
	fi
fi

if [ $quick = 0 ] && [ $fuzz = 1 ]; then
	step "configure $fuzz_dir/"
	# The fuzzers need clang and its runtimes (libclang-rt-14-dev).  The
	# VM tests are not defined here: they belong to the main pass.
	if CC=clang CXX=clang++ configure "$fuzz_dir" -Dfuzz=true -De2e=disabled; then
		if timed build-fuzz build clang-fuzz "$fuzz_dir" testsh; then
			timed clang-fuzz test_pass clang-fuzz "$fuzz_dir" testsh 1 "${fuzz_args[@]}"
		fi
	else
		results+=("clang-fuzz $fuzz_dir testsh build")
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
    pass_name, d, base, status = entry.rsplit(" ", 3)
    name = "%s (%s/)" % (pass_name, d)
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
