#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""libnvmft benchmark suite: nvmft-tgt on 127.0.0.1, measured by nvmft-perf.

The target is pinned to one core (--tgt-core, default 0) and the load to
another (--load-core, default 1).  Sections (--sections, default all but
spdk):

  matrix   4 KiB randread/randwrite at QD 1, 32, 128 and 128 KiB sequential
           read/write at QD 16; null and RAM backends; digests off and on;
           busy-poll and event-driven target.  Per row: IOPS, MiB/s, average
           and p99 latency, target CPU time per I/O (from the scheduler's
           per-thread run time) and the target's peak RSS.
  instr    user-space instructions per I/O of the target, counted by
           valgrind's callgrind on two short fixed-count runs (the
           difference divided by the difference in I/Os, so start-up and
           teardown cancel out).  perf stat is used instead where the machine
           has hardware counters (it then also counts the kernel).
  floors   the loopback floors: a busy-polling TCP ping-pong with a read's
           message sizes (72 B out, 4096 + 24 B back) against the QD1 4 KiB
           read (alternated --floor-segments times per rep, medians
           compared), and one busy-polling TCP stream against the 128 KiB
           read.
  floor-control  the floors' QD1 method with the ping-pong on both sides
           (--reps reps of --floor-segments alternating pairs): the
           spread the machine alone gives a per-rep ratio.
  memory   target RSS with one 1 GiB null namespace and 4 queues under load,
           and RSS as queues are added (bytes per queue).
  idle     event-driven target CPU use while idle with 4 connected queues,
           and event-driven vs busy-poll IOPS under load (--reps interleaved
           pairs; medians, and the median of the per-pair ratios).
  scale    IOPS from 1 to 64 connected queues (same total queue depth; and
           one queue at QD128 while 63 more are held connected and idle)
           and from 1 to 256 namespaces (I/O spread over all of them).
  spdk     (only with --spdk-start/--spdk-stop) the same client against
           another target, interleaved with nvmft-tgt, --reps times each;
           medians and the ratio.
  vfio-user  nvmft-tgt -l vfio-user:DIR --busy-poll with a 1 GiB null
           namespace, measured by vfu-perf (tests/vfio_user/, a busy-polling
           userspace NVMe driver, interrupts off): 4 KiB randread latency at
           QD 1 and IOPS at QD 32, --reps times each; medians.

Nothing here builds or fetches anything: give it an nvmft-tgt build (--build)
and, for the comparison, scripts that start and stop the other target.  A
start script is called as SCRIPT PORT CORE and must print SUBNQN=<nqn> once
the target listens; the stop script is called as SCRIPT PORT.

Results: one table per section on stdout, and everything as JSON with
--json FILE.  doc/performance.md keeps the results and the command used.
"""

import argparse
import json
import shlex
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

NQN = "nqn.2024-01.io.libnvmft:bench"
ADDR = "127.0.0.1"


def die(msg):
    print("bench: " + msg, file=sys.stderr)
    sys.exit(1)


# ---- processes ------------------------------------------------------------

def task_cpu_ns(pid):
    """Run time of every thread of @pid so far, in ns (/proc/PID/task/*/schedstat)."""
    total = 0
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            try:
                with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                    total += int(f.read().split()[0])
            except (OSError, ValueError, IndexError):
                pass
    except OSError:
        pass
    return total


def read_text(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return ""


def proc_status_kb(pid, key):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


class Target:
    """nvmft-tgt (or anything with the same ready line) on a free port."""

    def __init__(self, argv, workdir, name, ready_timeout=60, ready_re=r"listening on tcp \S+:(\d+)"):
        self.log = os.path.join(workdir, name + ".log")
        self.proc = subprocess.Popen(argv, stdout=open(self.log, "w"),
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self.port = None
        deadline = time.time() + ready_timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                die("%s exited at start (%s):\n%s" % (name, self.proc.returncode,
                                                      open(self.log).read()[-2000:]))
            m = re.search(ready_re, open(self.log).read())
            if m:
                # A socket path has no port: 0 stands for "ready".
                self.port = int(m.group(1)) if m.groups() else 0
                break
            time.sleep(0.05)
        if self.port is None:
            self.stop()
            die("%s did not get ready in %d s" % (name, ready_timeout))
        self.pid = self.proc.pid

    def cpu_ns(self):
        return task_cpu_ns(self.pid)

    def hwm_kb(self):
        return proc_status_kb(self.pid, "VmHWM")

    def rss_kb(self):
        return proc_status_kb(self.pid, "VmRSS")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


class Bench:
    def __init__(self, args):
        self.a = args
        self.tgt_bin = os.path.join(args.build, "examples", "nvmft-tgt")
        self.perf_bin = os.path.join(args.build, "tools", "nvmft-perf")
        self.pingpong_bin = os.path.join(args.build, "tools", "tcp-pingpong")
        self.stream_bin = os.path.join(args.build, "tools", "tcp-stream")
        for b in (self.tgt_bin, self.perf_bin, self.pingpong_bin, self.stream_bin):
            if not os.access(b, os.X_OK):
                die("%s is missing: build with meson first (--build DIR)" % b)
        self.work = tempfile.mkdtemp(prefix="nvmft-bench-")
        self.results = {"meta": self.meta(), "sections": {}}

    def meta(self):
        def out(cmd):
            try:
                return subprocess.run(cmd, capture_output=True, text=True,
                                      cwd=os.path.dirname(os.path.abspath(__file__))).stdout.strip()
            except OSError:
                return ""
        return {
            "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
            "commit": out(["git", "rev-parse", "--short", "HEAD"]),
            "dirty": out(["git", "status", "--porcelain", "--untracked-files=no"]) != "",
            "kernel": os.uname().release,
            "cpu": self.cpu_model(),
            "command": " ".join(sys.argv),
            # Decides how fast a loaded socket drains on loopback (performance.md).
            "tcp_congestion_control": read_text("/proc/sys/net/ipv4/tcp_congestion_control"),
        }

    @staticmethod
    def cpu_model():
        try:
            with open("/proc/cpuinfo") as f:
                for line in f:
                    if line.startswith("model name"):
                        return line.split(":", 1)[1].strip()
        except OSError:
            pass
        return ""

    # ---- running things ---------------------------------------------------

    def tgt_argv(self, mode="busy", ns=("null:1G,bs=4096",), extra=()):
        argv = ["taskset", "-c", str(self.a.tgt_core), self.tgt_bin,
                "-l", "tcp:%s:0" % ADDR, "-n", NQN,
                "--busy-poll" if mode == "busy" else "--event"]
        for n in ns:
            argv += ["--ns", n]
        return argv + list(extra) + shlex.split(self.a.tgt_args or "")

    def start_tgt(self, name, **kw):
        return Target(self.tgt_argv(**kw), self.work, name)

    def perf(self, port, args, nqn=NQN, core=None):
        core = self.a.load_core if core is None else core
        argv = [self.perf_bin, "-a", ADDR, "-s", str(port), "-n", nqn, "--core", str(core),
                "--json"] + list(args)
        p = subprocess.run(argv, capture_output=True, text=True)
        try:
            r = json.loads(p.stdout)
        except ValueError:
            die("nvmft-perf printed no JSON (exit %d): %s\n%s" %
                (p.returncode, " ".join(argv), p.stderr[-2000:]))
        if p.returncode != 0 or not r["results"]["ok"]:
            die("nvmft-perf failed: %s\n%s" % (" ".join(argv),
                                                r["results"].get("error") or p.stderr[-2000:]))
        return r

    def measured(self, tgt, port, perf_args, nqn=NQN):
        """One nvmft-perf run with the target's CPU time and memory around it."""
        c0 = tgt.cpu_ns() if tgt else 0
        t0 = time.monotonic()
        r = self.perf(port, perf_args, nqn=nqn)
        wall = time.monotonic() - t0
        c1 = tgt.cpu_ns() if tgt else 0
        res = r["results"]
        ios = res["ios"]
        row = {
            "iops": res["iops"], "mib_s": res["mib_s"],
            "lat_avg_us": res["latency_us"]["avg"], "lat_p50_us": res["latency_us"]["p50"],
            "lat_p99_us": res["latency_us"]["p99"],
            "ios": ios, "client_busy_pct": res["cpu"]["busy_percent"],
        }
        if tgt:
            # The window also holds connection set-up and teardown; they cost
            # microseconds against seconds of I/O.
            row["tgt_cpu_pct"] = 100.0 * (c1 - c0) / 1e9 / wall
            row["tgt_us_per_io"] = (c1 - c0) / 1e3 / ios if ios else None
            row["tgt_hwm_mib"] = (tgt.hwm_kb() or 0) / 1024.0
        return row

    def wl_args(self, wl):
        return ["-w", wl["rw"], "-o", str(wl["bs"]), "-q", str(wl["qd"])]

    def time_args(self):
        return ["-t", str(self.a.time), "--warmup", str(self.a.warmup)]

    # ---- sections ---------------------------------------------------------

    WORKLOADS = [
        {"name": "4k randread qd1", "rw": "randread", "bs": 4096, "qd": 1},
        {"name": "4k randread qd32", "rw": "randread", "bs": 4096, "qd": 32},
        {"name": "4k randread qd128", "rw": "randread", "bs": 4096, "qd": 128},
        {"name": "4k randwrite qd1", "rw": "randwrite", "bs": 4096, "qd": 1},
        {"name": "4k randwrite qd32", "rw": "randwrite", "bs": 4096, "qd": 32},
        {"name": "4k randwrite qd128", "rw": "randwrite", "bs": 4096, "qd": 128},
        {"name": "128k read qd16", "rw": "read", "bs": 131072, "qd": 16},
        {"name": "128k write qd16", "rw": "write", "bs": 131072, "qd": 16},
    ]
    BACKENDS = {"null": "null:1G,bs=4096", "ram": "ram:1G,bs=4096"}

    def selected(self, name):
        return not self.a.only or re.search(self.a.only, name)

    def section_matrix(self):
        rows = []
        for mode in self.a.modes:
            for be in self.a.backends:
                for dg in self.a.digests:
                    todo = [w for w in self.WORKLOADS
                            if self.selected("%s %s %s %s" % (w["name"], be, dg, mode))]
                    if not todo:
                        continue
                    tgt = self.start_tgt("matrix-%s-%s" % (mode, be), mode=mode,
                                         ns=(self.BACKENDS[be],))
                    try:
                        for wl in todo:
                            args = self.wl_args(wl) + self.time_args()
                            if dg == "digests":
                                args += ["-H", "-I"]
                            row = self.measured(tgt, tgt.port, args)
                            row.update({"workload": wl["name"], "backend": be,
                                        "digests": dg, "mode": mode})
                            rows.append(row)
                            self.print_row("matrix", row)
                    finally:
                        tgt.stop()
        self.results["sections"]["matrix"] = rows
        return rows

    def perf_stat_works(self):
        if not shutil.which("perf"):
            return False
        p = subprocess.run(["perf", "stat", "-x,", "-e", "instructions:u", "true"],
                           capture_output=True, text=True)
        return p.returncode == 0 and "not supported" not in p.stderr and \
            re.search(r"^\d+,", p.stderr, re.M) is not None

    def instr_tool(self):
        if self.perf_stat_works():
            return "perf"
        return "callgrind" if shutil.which("valgrind") else None

    def idle_holder(self, port, queues, timeout=60):
        """nvmft-perf --idle keeping @queues more I/O queues connected (no I/O)."""
        argv = [self.perf_bin, "-a", ADDR, "-s", str(port), "-n", NQN, "--core",
                str(self.a.load_core), "--idle", "--queues", str(queues), "-t", "3600"]
        return Target(argv, self.work, "idle-holder", ready_timeout=timeout,
                      ready_re=r"idle: \d+ queues? connected")

    def instr_count(self, tool, ns, extra, perf_args, count, hold=0):
        """Instructions the target executed for one event-mode run of @count I/Os."""
        out = os.path.join(self.work, "instr.out")
        base = self.tgt_argv(mode="event", ns=ns, extra=extra)[3:]  # no taskset
        if tool == "callgrind":
            argv = ["taskset", "-c", str(self.a.tgt_core), "valgrind", "--tool=callgrind",
                    "--callgrind-out-file=" + out, "--dump-line=no"] + base
        else:
            argv = ["taskset", "-c", str(self.a.tgt_core), "perf", "stat", "-x,", "-o", out,
                    "-e", "instructions"] + base
        tgt = Target(argv, self.work, "instr", ready_timeout=120)
        holder = None
        try:
            if hold:
                holder = self.idle_holder(tgt.port, hold, timeout=300)
            self.perf(tgt.port, list(perf_args) + ["--count", str(count), "--warmup", "0"])
        finally:
            if holder:
                holder.stop()
            tgt.stop()
        with open(out) as f:
            text = f.read()
        if tool == "callgrind":
            m = re.search(r"^summary:\s+(\d+)", text, re.M)
        else:
            m = re.search(r"^(\d+),,instructions", text, re.M)
        if not m:
            die("no instruction count in %s output" % tool)
        return int(m.group(1))

    def instr_per_io(self, tool, ns, perf_args, extra=(), hold=0):
        """Two runs, @n and 6 @n I/Os: the difference leaves start-up and teardown out."""
        n1, n2 = self.a.instr_count, self.a.instr_count * 6
        i1 = self.instr_count(tool, ns, extra, perf_args, n1, hold)
        i2 = self.instr_count(tool, ns, extra, perf_args, n2, hold)
        return (i2 - i1) / float(n2 - n1)

    def section_instr(self):
        tool = self.instr_tool()
        if tool is None:
            print("bench: instr: neither perf counters nor valgrind here; skipped")
            return []
        rows = []
        for be in self.a.backends:
            for dg in self.a.digests:
                for wl in self.WORKLOADS:
                    if not self.selected("%s %s %s event" % (wl["name"], be, dg)):
                        continue
                    args = self.wl_args(wl) + (["-H", "-I"] if dg == "digests" else [])
                    row = {"workload": wl["name"], "backend": be, "digests": dg,
                           "tool": tool + (" (user)" if tool == "callgrind" else ""),
                           "instr_per_io": self.instr_per_io(tool, (self.BACKENDS[be],), args)}
                    rows.append(row)
                    self.print_row("instr", row)
        self.results["sections"]["instr"] = rows
        return rows

    def floor_json(self, argv):
        p = subprocess.run(argv + ["--json"], capture_output=True, text=True)
        if p.returncode != 0:
            die("%s failed: %s" % (argv[0], p.stderr[-1000:]))
        return json.loads(p.stdout)

    def pingpong_argv(self):
        """The QD1 floor: a busy-polling ping-pong with a 4 KiB read's message sizes."""
        return [self.pingpong_bin, "--server-core", str(self.a.tgt_core),
                "--client-core", str(self.a.load_core), "-t", str(self.a.time)]

    def section_floors(self):
        rows = []
        reps = max(1, self.a.reps)
        segs = max(1, self.a.floor_segments)
        for i in range(reps):
            # The floor and the QD1 read alternate, segs times each, and the
            # rep compares their medians: the host's state changes from one
            # run to the next, and one unlucky run of either side would
            # otherwise decide the rep.
            pps, qd1s = [], []
            for _ in range(segs):
                pps.append(self.floor_json(self.pingpong_argv()))
                tgt = self.start_tgt("floor-qd1", mode="busy")
                try:
                    qd1s.append(self.measured(tgt, tgt.port, ["-w", "randread", "-o", "4096",
                                                              "-q", "1"] + self.time_args()))
                finally:
                    tgt.stop()
            # The ceiling with the read workload's bytes in flight (16 x 128 KiB).
            st = self.floor_json([self.stream_bin, "--sender-core", str(self.a.tgt_core),
                                  "--receiver-core", str(self.a.load_core),
                                  "-t", str(self.a.time), "--window", "16"])
            tgt = self.start_tgt("floor-128k", mode="busy")
            try:
                rd = self.measured(tgt, tgt.port, ["-w", "read", "-o", "131072", "-q", "16"] +
                                   self.time_args())
            finally:
                tgt.stop()
            # Medians as well as means: a stalled vCPU adds tens of ms to a
            # few round trips, which moves the mean of either far more than
            # anything the target does.
            med = statistics.median
            pp_avg = med(p["latency_us"]["avg"] for p in pps)
            pp_p50 = med(p["latency_us"]["p50"] for p in pps)
            qd1_avg = med(q["lat_avg_us"] for q in qd1s)
            qd1_p50 = med(q["lat_p50_us"] for q in qd1s)
            row = {"rep": i + 1,
                   "pingpong_avg_us": pp_avg,
                   "qd1_read_avg_us": qd1_avg,
                   "qd1_over_floor": qd1_avg / pp_avg,
                   "pingpong_p50_us": pp_p50,
                   "qd1_read_p50_us": qd1_p50,
                   "qd1_p50_over_floor": qd1_p50 / pp_p50,
                   "pingpong_p50_segments": [p["latency_us"]["p50"] for p in pps],
                   "qd1_p50_segments": [q["lat_p50_us"] for q in qd1s],
                   "stream_mib_s": st["mib_s"],
                   "read128k_mib_s": rd["mib_s"],
                   "read128k_of_stream": rd["mib_s"] / st["mib_s"]}
            rows.append(row)
            self.print_row("floors", row)
        self.results["sections"]["floors"] = rows
        return rows

    def section_floor_control(self):
        """The floors' QD1 comparison with the ping-pong on both sides: how
        far one program lands from itself by the same method."""
        rows = []
        segs = max(1, self.a.floor_segments)
        argv = self.pingpong_argv()
        for i in range(max(1, self.a.reps)):
            a, b = [], []
            for _ in range(segs):
                a.append(self.floor_json(argv)["latency_us"]["p50"])
                b.append(self.floor_json(argv)["latency_us"]["p50"])
            row = {"rep": i + 1, "a_p50_segments": a, "b_p50_segments": b,
                   "b_over_a": statistics.median(b) / statistics.median(a)}
            rows.append(row)
            self.print_row("control", row)
        self.results["sections"]["floor-control"] = rows
        return rows

    def section_memory(self):
        rows = []
        tgt = self.start_tgt("memory-4q", mode="busy")
        try:
            r = self.measured(tgt, tgt.port, ["-w", "randread", "-o", "4096", "-q", "32",
                                              "--queues", "4"] + self.time_args())
            row = {"what": "1 GiB null ns, 4 queues x qd 32 under load",
                   "hwm_mib": r["tgt_hwm_mib"], "iops": r["iops"]}
            rows.append(row)
            self.print_row("memory", row)
        finally:
            tgt.stop()
        # RSS against connected queues: --idle keeps them open without I/O.
        points = []
        for nq in (1, 16, 64):
            tgt = self.start_tgt("memory-q%d" % nq, mode="event",
                                 extra=("--max-io-qpairs", "128"))
            try:
                base = tgt.rss_kb()
                p = subprocess.Popen([self.perf_bin, "-a", ADDR, "-s", str(tgt.port), "-n", NQN,
                                      "--queues", str(nq), "-q", "128", "--idle", "-t", "3",
                                      "--json"], stdout=subprocess.PIPE, text=True)
                time.sleep(2)
                rss = tgt.rss_kb()
                p.communicate()
                points.append((nq, rss))
                row = {"what": "%d idle queues of depth 128" % nq, "rss_mib": rss / 1024.0,
                       "start_rss_mib": base / 1024.0}
                rows.append(row)
                self.print_row("memory", row)
            finally:
                tgt.stop()
        (q0, r0), (q1, r1) = points[0], points[-1]
        per_q = (r1 - r0) * 1024.0 / (q1 - q0)
        rows.append({"what": "bytes per added queue (qd 128)", "bytes_per_queue": per_q})
        self.print_row("memory", rows[-1])
        self.results["sections"]["memory"] = rows
        return rows

    def section_idle(self):
        rows = []
        tgt = self.start_tgt("idle", mode="event")
        try:
            p = subprocess.Popen([self.perf_bin, "-a", ADDR, "-s", str(tgt.port), "-n", NQN,
                                  "--queues", "4", "--idle", "-t", str(self.a.time + 2),
                                  "--json"], stdout=subprocess.PIPE, text=True)
            time.sleep(1)
            c0, t0 = tgt.cpu_ns(), time.monotonic()
            time.sleep(self.a.time)
            c1, t1 = tgt.cpu_ns(), time.monotonic()
            p.communicate()
            row = {"what": "event mode, 4 queues connected, no I/O",
                   "tgt_cpu_pct": 100.0 * (c1 - c0) / 1e9 / (t1 - t0)}
            rows.append(row)
            self.print_row("idle", row)
        finally:
            tgt.stop()
        # Interleaved pairs: one host stall can make a single pair say anything.
        for wl in (self.WORKLOADS[2], self.WORKLOADS[5]):
            vals = {"busy": [], "event": []}
            for _ in range(max(1, self.a.reps)):
                for mode in ("busy", "event"):
                    tgt = self.start_tgt("idle-%s" % mode, mode=mode)
                    try:
                        vals[mode].append(self.measured(tgt, tgt.port,
                                                        self.wl_args(wl) + self.time_args()))
                    finally:
                        tgt.stop()
            busy = [v["iops"] for v in vals["busy"]]
            event = [v["iops"] for v in vals["event"]]
            row = {"what": wl["name"] + " null", "pairs": len(busy),
                   "busy_iops": statistics.median(busy), "event_iops": statistics.median(event),
                   "event_of_busy": statistics.median([e / b for e, b in zip(event, busy)]),
                   "event_tgt_cpu_pct": statistics.median(v["tgt_cpu_pct"] for v in vals["event"]),
                   "busy_iops_all": busy, "event_iops_all": event}
            rows.append(row)
            self.print_row("idle", row)
        self.results["sections"]["idle"] = rows
        return rows

    def section_scale(self):
        rows = []
        total_qd = 128
        for nq in (1, 4, 16, 64):
            tgt = self.start_tgt("scale-q%d" % nq, mode="busy", extra=("--max-io-qpairs", "128"))
            try:
                r = self.measured(tgt, tgt.port, ["-w", "randread", "-o", "4096",
                                                  "-q", str(total_qd // nq), "--queues", str(nq)]
                                  + self.time_args())
            finally:
                tgt.stop()
            row = {"what": "queues", "n": nq, "qd_each": total_qd // nq, "iops": r["iops"]}
            rows.append(row)
            self.print_row("scale", row)
        tool = self.instr_tool()
        for nq in (1, 64) if tool else ():
            ipi = self.instr_per_io(tool, ("null:1G,bs=4096",),
                                    ["-w", "randread", "-o", "4096", "-q", str(total_qd // nq),
                                     "--queues", str(nq)], extra=("--max-io-qpairs", "128"))
            row = {"what": "queues (instructions)", "n": nq, "instr_per_io": ipi, "tool": tool}
            rows.append(row)
            self.print_row("scale", row)
        # Queues that are connected but carry no I/O must cost the loaded
        # one nothing: one queue at QD128 while nvmft-perf --idle holds the
        # other 63 (a second controller) connected.
        qargs = ["-w", "randread", "-o", "4096", "-q", str(total_qd)]
        for n in (1, 64):
            tgt = self.start_tgt("scale-held%d" % n, mode="busy", extra=("--max-io-qpairs", "128"))
            holder = None
            try:
                if n > 1:
                    holder = self.idle_holder(tgt.port, n - 1)
                r = self.measured(tgt, tgt.port, qargs + self.time_args())
            finally:
                if holder:
                    holder.stop()
                tgt.stop()
            row = {"what": "connected queues, 1 loaded", "n": n, "iops": r["iops"]}
            rows.append(row)
            self.print_row("scale", row)
        for n in (1, 64) if tool else ():
            ipi = self.instr_per_io(tool, ("null:1G,bs=4096",), qargs,
                                    extra=("--max-io-qpairs", "128"), hold=n - 1)
            row = {"what": "connected queues, 1 loaded (instructions)", "n": n,
                   "instr_per_io": ipi, "tool": tool}
            rows.append(row)
            self.print_row("scale", row)
        for nns in (1, 256) if tool else ():
            ipi = self.instr_per_io(tool, ["null:64M,bs=4096"] * nns,
                                    ["-w", "randread", "-o", "4096", "-q", "128",
                                     "--ns-count", str(nns)])
            row = {"what": "namespaces (instructions)", "n": nns, "instr_per_io": ipi,
                   "tool": tool}
            rows.append(row)
            self.print_row("scale", row)
        for nns in (1, 16, 64, 256):
            ns = ["null:64M,bs=4096"] * nns
            tgt = self.start_tgt("scale-ns%d" % nns, mode="busy", ns=ns)
            try:
                r = self.measured(tgt, tgt.port, ["-w", "randread", "-o", "4096", "-q", "128",
                                                  "--ns-count", str(nns)] + self.time_args())
            finally:
                tgt.stop()
            row = {"what": "namespaces", "n": nns, "iops": r["iops"],
                   "hwm_mib": r["tgt_hwm_mib"]}
            rows.append(row)
            self.print_row("scale", row)
        self.results["sections"]["scale"] = rows
        return rows

    def section_spdk(self):
        if not (self.a.spdk_start and self.a.spdk_stop):
            return []
        port = self.a.spdk_port
        rows = []
        wls = [w for w in self.WORKLOADS if w["name"] in
               ("4k randread qd1", "4k randread qd32", "4k randread qd128",
                "4k randwrite qd128", "128k read qd16")
               and self.selected(w["name"] + " null none busy")]
        samples = {w["name"]: {"nvmft": [], "spdk": [], "nvmft_hwm": [], "spdk_hwm": []}
                   for w in wls}
        for rep in range(self.a.reps):
            for wl in wls:
                # Interleaved: one of ours, then one of theirs, same client and pinning.
                tgt = self.start_tgt("cmp-nvmft", mode="busy")
                try:
                    r = self.measured(tgt, tgt.port, self.wl_args(wl) + self.time_args())
                finally:
                    tgt.stop()
                samples[wl["name"]]["nvmft"].append(r["iops"])
                samples[wl["name"]]["nvmft_hwm"].append(r["tgt_hwm_mib"])
                p = subprocess.run([self.a.spdk_start, str(port), str(self.a.tgt_core)],
                                   capture_output=True, text=True)
                m = re.search(r"^SUBNQN=(\S+)", p.stdout, re.M)
                pm = re.search(r"^PID=(\d+)", p.stdout, re.M)
                if p.returncode != 0 or not m:
                    die("the other target did not start:\n" + p.stdout[-1000:] + p.stderr[-1000:])
                try:
                    r = self.measured(None, port, self.wl_args(wl) + self.time_args(),
                                      nqn=m.group(1))
                    hwm = proc_status_kb(int(pm.group(1)), "VmHWM") if pm else None
                finally:
                    subprocess.run([self.a.spdk_stop, str(port)], capture_output=True)
                samples[wl["name"]]["spdk"].append(r["iops"])
                samples[wl["name"]]["spdk_hwm"].append((hwm or 0) / 1024.0)
                print("  spdk rep %d %-18s nvmft %10.0f  other %10.0f" %
                      (rep + 1, wl["name"], samples[wl["name"]]["nvmft"][-1],
                       samples[wl["name"]]["spdk"][-1]), flush=True)
        for wl in wls:
            s = samples[wl["name"]]
            mn, ms = statistics.median(s["nvmft"]), statistics.median(s["spdk"])
            # Each pair ran back to back, so it shares the machine's mood of the
            # moment: the median of per-pair ratios shrugs off stalls that hit
            # a whole pair, which the ratio of the two medians does not.
            pairs = [a / b for a, b in zip(s["nvmft"], s["spdk"]) if b]
            row = {"workload": wl["name"] + " null", "nvmft_iops_median": mn,
                   "other_iops_median": ms, "ratio": mn / ms if ms else None,
                   "paired_ratio_median": statistics.median(pairs) if pairs else None,
                   "nvmft_iops": s["nvmft"], "other_iops": s["spdk"],
                   "nvmft_hwm_mib": max(s["nvmft_hwm"]), "other_hwm_mib": max(s["spdk_hwm"]),
                   "mib_s_factor": wl["bs"] / 1048576.0}
            rows.append(row)
            self.print_row("spdk", row)
        self.results["sections"]["spdk"] = rows
        return rows

    def section_vfio_user(self):
        perf = os.path.join(self.a.build, "tests", "vfio_user", "vfu-perf")
        if not os.access(perf, os.X_OK):
            die("%s is missing: build with meson first (-Dtests=true)" % perf)
        runs = (("4k randread qd1", 1), ("4k randread qd32", 32))
        samples = {name: [] for name, _ in runs}
        for rep in range(max(1, self.a.reps)):
            d = tempfile.mkdtemp(prefix="vfu-", dir=self.work)
            argv = ["taskset", "-c", str(self.a.tgt_core), self.tgt_bin, "-n", NQN,
                    "-l", "vfio-user:" + d, "--busy-poll", "--ns", self.BACKENDS["null"]]
            tgt = Target(argv, self.work, "vfio-user-%d" % rep, ready_re=r"listening on vfio-user ")
            try:
                for name, qd in runs:
                    c0, t0 = tgt.cpu_ns(), time.monotonic()
                    argv = [perf, "-s", os.path.join(d, "cntrl"), "-w", "randread", "-o", "4096",
                            "-q", str(qd), "-t", str(self.a.time), "--warmup", str(self.a.warmup),
                            "--core", str(self.a.load_core), "--json"]
                    p = subprocess.run(argv, capture_output=True, text=True)
                    wall, c1 = time.monotonic() - t0, tgt.cpu_ns()
                    try:
                        r = json.loads(p.stdout)["results"]
                    except (ValueError, KeyError):
                        die("vfu-perf printed no JSON (exit %d): %s\n%s" %
                            (p.returncode, " ".join(argv), p.stderr[-2000:]))
                    if p.returncode != 0 or not r["ok"]:
                        die("vfu-perf failed: %s\n%s" % (" ".join(argv), p.stderr[-2000:]))
                    row = {"rep": rep + 1, "workload": name + " null", "iops": r["iops"],
                           "lat_avg_us": r["latency_us"]["avg"], "lat_p50_us": r["latency_us"]["p50"],
                           "lat_p99_us": r["latency_us"]["p99"],
                           "tgt_cpu_pct": 100.0 * (c1 - c0) / 1e9 / wall,
                           "tgt_hwm_mib": (tgt.hwm_kb() or 0) / 1024.0}
                    samples[name].append(row)
                    self.print_row("vfu", row)
            finally:
                tgt.stop()
        rows = []
        for name, _ in runs:
            s = samples[name]
            row = {"workload": name + " null", "reps": len(s),
                   "iops_median": statistics.median(x["iops"] for x in s),
                   "lat_avg_us_median": statistics.median(x["lat_avg_us"] for x in s),
                   "lat_p50_us_median": statistics.median(x["lat_p50_us"] for x in s),
                   "lat_p99_us_median": statistics.median(x["lat_p99_us"] for x in s),
                   "iops": [x["iops"] for x in s]}
            rows.append(row)
            self.print_row("vfu", row)
        self.results["sections"]["vfio-user"] = rows
        return rows

    # ---- output -------------------------------------------------------------

    @staticmethod
    def fmt(v):
        if isinstance(v, float):
            if abs(v) >= 1000:
                return "%.0f" % v
            if abs(v) >= 10:
                return "%.1f" % v
            return "%.3f" % v
        if isinstance(v, list):
            return "[" + ", ".join(Bench.fmt(x) for x in v) + "]"
        return str(v)

    def print_row(self, section, row):
        print("  %-7s " % section + "  ".join("%s=%s" % (k, self.fmt(v)) for k, v in row.items()),
              flush=True)

    def print_tables(self):
        m = self.results["sections"].get("matrix")
        if m:
            print("\n%-20s %-5s %-8s %-6s %10s %9s %9s %9s %8s %8s" %
                  ("workload", "ns", "digests", "mode", "IOPS", "MiB/s", "avg us", "p99 us",
                   "tgt us/IO", "tgt MiB"))
            for r in m:
                print("%-20s %-5s %-8s %-6s %10.0f %9.1f %9.1f %9.1f %8.2f %8.1f" %
                      (r["workload"], r["backend"], r["digests"], r["mode"], r["iops"],
                       r["mib_s"], r["lat_avg_us"], r["lat_p99_us"], r["tgt_us_per_io"] or 0,
                       r["tgt_hwm_mib"]))
        ins = self.results["sections"].get("instr")
        if ins:
            print("\n%-20s %-5s %-8s %14s  %s" % ("workload", "ns", "digests", "instr/IO", "tool"))
            for r in ins:
                print("%-20s %-5s %-8s %14.0f  %s" % (r["workload"], r["backend"], r["digests"],
                                                     r["instr_per_io"], r["tool"]))

    def run(self):
        print("bench: commit %s%s, %s, target on CPU %d, load on CPU %d, %s s runs, "
              "system congestion control %s%s" %
              (self.results["meta"]["commit"], " (dirty)" if self.results["meta"]["dirty"] else "",
               self.results["meta"]["cpu"], self.a.tgt_core, self.a.load_core, self.a.time,
               self.results["meta"]["tcp_congestion_control"] or "?",
               ", nvmft-tgt " + self.a.tgt_args if self.a.tgt_args else ""),
              flush=True)
        for s in self.a.sections:
            print("== %s" % s, flush=True)
            getattr(self, "section_" + s.replace("-", "_"))()
        self.print_tables()
        if self.a.json:
            with open(self.a.json, "w") as f:
                json.dump(self.results, f, indent=1)
        shutil.rmtree(self.work, ignore_errors=True)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(here, "..", "build"),
                    help="meson build dir with nvmft-tgt and the tools (default ../build)")
    ap.add_argument("--sections", default="matrix,instr,floors,memory,idle,scale,vfio-user",
                    help="comma-separated: matrix,instr,floors,floor-control,memory,idle,scale,"
                    "vfio-user,spdk")
    ap.add_argument("--time", type=float, default=5.0, help="seconds per measured run")
    ap.add_argument("--warmup", type=float, default=1.0, help="warm-up seconds per run")
    ap.add_argument("--reps", type=int, default=3,
                    help="repetitions for floors, idle and spdk (medians are reported)")
    ap.add_argument("--floor-segments", type=int, default=3,
                    help="floors: ping-pong and QD1 runs alternated this many times per rep "
                    "(each --time long); the rep compares their medians")
    ap.add_argument("--tgt-core", type=int, default=0)
    ap.add_argument("--load-core", type=int, default=1)
    ap.add_argument("--only", help="regex over 'workload backend digests mode' for matrix, instr and spdk")
    ap.add_argument("--modes", default="busy,event")
    ap.add_argument("--backends", default="null,ram")
    ap.add_argument("--digests", default="none,digests")
    ap.add_argument("--instr-count", type=int, default=4000,
                    help="I/Os of the shorter instruction-count run (the longer has 6x)")
    ap.add_argument("--tgt-args", help="more nvmft-tgt arguments for every TCP target "
                    "(one string, e.g. '--tcp-congestion reno')")
    ap.add_argument("--spdk-start", help="script starting the other target: SCRIPT PORT CORE")
    ap.add_argument("--spdk-stop", help="script stopping it: SCRIPT PORT")
    # Below the ephemeral range, so no client socket in TIME_WAIT holds it.
    ap.add_argument("--spdk-port", type=int, default=4430)
    ap.add_argument("--json", help="write every result to this file")
    a = ap.parse_args()
    a.sections = [s for s in a.sections.split(",") if s]
    for s in a.sections:
        if not hasattr(Bench, "section_" + s.replace("-", "_")):
            ap.error("unknown section " + s)
    a.modes = a.modes.split(",")
    a.backends = a.backends.split(",")
    a.digests = a.digests.split(",")
    if "spdk" in a.sections and not (a.spdk_start and a.spdk_stop):
        ap.error("the spdk section needs --spdk-start and --spdk-stop")
    Bench(a).run()


if __name__ == "__main__":
    main()
