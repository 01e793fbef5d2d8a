#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Check one nvmft-perf (or tcp-pingpong / tcp-stream) JSON result.

Usage: check_perf.py RESULT.json EXIT_STATUS [expectation ...]

Expectations:
  ok                 results.ok is true, no errors, exit status 0 (the default)
  verify-fails       results.ok is false, verify_errors > 0, exit status 1
  count=N            exactly N measured I/Os, split consistently into reads and writes
  mixed              both reads and writes were measured
  reads-only / writes-only
  verified           a write workload read back its data (verify_reads > 0)
  digests            header and data digests were negotiated
  queues=N           N I/O queues took part (per-thread queue counts add up)
  threads=N
  epoll=N            N worker threads found their readable queues through epoll
                     (and called epoll_wait during the measured window if N > 0)
  keepalive          at least one Keep Alive was sent during the run
  discarded          C2HData payload was dropped in the kernel, none copied or
                     received into buffers (--rx-mode discard)
  tool=NAME          for the TCP floor tools: the JSON comes from NAME

Exit status 0 when every expectation holds; each failure is printed.
Speed is never checked.
"""
import json
import sys


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    path, status = sys.argv[1], int(sys.argv[2])
    want = sys.argv[3:] or ["ok"]
    failures = []

    def check(cond, what):
        if not cond:
            failures.append(what)

    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        doc = json.loads(text)
    except ValueError as e:
        print(f"FAIL: output is not one JSON object: {e}\n---\n{text[:2000]}")
        return 1
    tool = next((w.split("=", 1)[1] for w in want if w.startswith("tool=")), "nvmft-perf")
    check(doc.get("tool") == tool, f"tool is {doc.get('tool')!r}, expected {tool!r}")
    if tool != "nvmft-perf":
        check(status == 0, f"exit status {status}, expected 0")
        if tool == "tcp-pingpong":
            check(doc["round_trips"] > 0, "no round trips")
            lat = doc["latency_us"]
            check(0 < lat["min"] <= lat["p50"] <= lat["p99"] <= lat["max"],
                  f"latencies out of order: {lat}")
        else:
            check(doc["bytes"] > 0 and doc["mib_s"] > 0, "nothing was transferred")
        return report(failures)

    res = doc["results"]
    params = doc["params"]
    rd, wr = res["read"], res["write"]
    check(res["ios"] == rd["ios"] + wr["ios"],
          f"ios {res['ios']} != reads {rd['ios']} + writes {wr['ios']}")
    check(res["bytes"] == (rd["ios"] + wr["ios"]) * params["io_size"],
          f"bytes {res['bytes']} != ios x io_size")
    for kind in (res, rd, wr):
        lat = kind["latency_us"]
        if kind["ios"]:
            check(0 <= lat["min"] <= lat["p50"] <= lat["p99"] <= lat["p99_9"] <= lat["max"],
                  f"latencies out of order: {lat}")
            check(lat["min"] <= lat["avg"] <= lat["max"], f"average out of range: {lat}")
    check(res["cpu"]["percent"] >= 0, "negative CPU")
    # An idle run starts no worker threads: the main thread holds the queues.
    check(params.get("idle") or
          sum(t["queues"] for t in res["cpu"]["threads"]) == params["queues"],
          "thread queue counts do not add up to --queues")
    check(sum(t["ios"] for t in res["cpu"]["threads"]) == res["ios"],
          "per-thread I/O counts do not add up")

    for w in want:
        key, _, val = w.partition("=")
        if key == "ok":
            check(res["ok"] is True, f"results.ok is false: {res['error']}")
            check(res["error"] is None, f"error: {res['error']}")
            check(res["errors"] == 0, f"{res['errors']} I/O errors")
            check(res["verify_errors"] == 0, f"{res['verify_errors']} verify errors")
            check(status == 0, f"exit status {status}, expected 0")
            check(res["ios"] > 0, "no I/O completed")
        elif key == "verify-fails":
            check(res["ok"] is False, "results.ok is true for a run that must fail")
            check(res["verify_errors"] > 0, "no verify errors")
            check(res["error"] and "verify failed" in res["error"],
                  f"error does not name the verify failure: {res['error']}")
            check(status == 1, f"exit status {status}, expected 1")
        elif key == "count":
            check(params["count"] == int(val), f"params.count {params['count']} != {val}")
            check(res["ios"] == int(val), f"completed {res['ios']} I/Os, requested {val}")
        elif key == "mixed":
            check(rd["ios"] > 0 and wr["ios"] > 0, f"reads {rd['ios']}, writes {wr['ios']}")
        elif key == "reads-only":
            check(wr["ios"] == 0 and rd["ios"] > 0, f"reads {rd['ios']}, writes {wr['ios']}")
        elif key == "writes-only":
            check(rd["ios"] == 0 and wr["ios"] > 0, f"reads {rd['ios']}, writes {wr['ios']}")
        elif key == "verified":
            check(params["verify"] is True, "verify not set")
            check(res["verify_reads"] > 0, "no read-back after the writes")
        elif key == "digests":
            check(doc["target"]["hdgst"] and doc["target"]["ddgst"], "digests not negotiated")
        elif key == "queues":
            check(params["queues"] == int(val), f"queues {params['queues']} != {val}")
        elif key == "threads":
            check(len(res["cpu"]["threads"]) == int(val),
                  f"{len(res['cpu']['threads'])} threads, expected {val}")
        elif key == "epoll":
            tr = res["transport"]
            per_thread = sum(1 for t in res["cpu"]["threads"] if t["epoll"])
            check(tr["epoll_threads"] == int(val) and per_thread == int(val),
                  f"epoll threads {tr['epoll_threads']} (per thread {per_thread}), expected {val}")
            check((tr["epoll_wait_calls"] > 0) == (int(val) > 0),
                  f"{tr['epoll_wait_calls']} epoll_wait calls with {val} epoll threads")
        elif key == "idle":
            check(res["ok"] is True and status == 0, f"idle run failed: {res['error']}")
            check(params["idle"] is True, "params.idle is not true")
            check(res["ios"] == 0, f"{res['ios']} I/Os in an idle run")
            check(res["elapsed_s"] >= params["time_s"], "held shorter than -t")
        elif key == "ns-count":
            check(params["ns_count"] == int(val), f"ns_count {params['ns_count']} != {val}")
        elif key == "discarded":
            tr = res["transport"]
            check(tr["c2h_bytes_discarded"] > 0 and tr["c2h_bytes_copied"] == 0 and
                  tr["c2h_bytes_direct"] == 0,
                  f"payload bytes discarded {tr['c2h_bytes_discarded']}, copied "
                  f"{tr['c2h_bytes_copied']}, direct {tr['c2h_bytes_direct']}")
        elif key == "keepalive":
            check(res["keep_alives"] > 0, "no Keep Alive was sent")
        elif key == "tool":
            pass
        else:
            failures.append(f"unknown expectation {w!r}")
    return report(failures)


def report(failures):
    for f in failures:
        print(f"FAIL: {f}")
    print(f"{0 if failures else 1} passed, {1 if failures else 0} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
