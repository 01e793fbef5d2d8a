#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""SPDK's own scripts/rpc.py, unmodified, against nvmft-tgt.

The seed scenario and every supported method through rpc.py's command line
(which adds parameters of its own, such as the vfio-user options of
nvmf_create_transport), rpc.py's client-side save_config (through
framework_get_subsystems and framework_get_config) and load_config (method
by method, through rpc_get_methods) into a second target, which must end up
the same.  Exit 77 (skip) when rpc.py is not there: CI has no SPDK, and the
cmocka tests cover the same methods with the project's own client.

Usage: test_rpc_py.py --tgt NVMFT_TGT --rpc-py RPC_PY --workdir DIR
(the environment's SPDK_RPC_PY, when set, names rpc.py instead).  Output: TAP.
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

LVOL = "nqn.2024-01.io.excloud:storage.node.disk.lvol"
S2 = "nqn.2024-01.io.test:s2"
HOST = "nqn.2014-08.org.nvmexpress:uuid:0c5b1d5e-2c51-4c2f-9d8e-3a4c5b6d7e8f"
DISCOVERY = "nqn.2014-08.org.nvmexpress.discovery"
VFU = "nqn.2019-07.io.spdk:cnode1"
REQUIRED = """rpc_get_methods spdk_get_version framework_wait_init nvmf_create_transport
nvmf_get_transports nvmf_create_subsystem nvmf_delete_subsystem nvmf_get_subsystems
nvmf_subsystem_add_listener nvmf_subsystem_remove_listener nvmf_subsystem_add_ns
nvmf_subsystem_remove_ns nvmf_subsystem_add_host nvmf_subsystem_remove_host
nvmf_subsystem_allow_any_host nvmf_subsystem_get_controllers nvmf_subsystem_get_qpairs
nvmf_subsystem_get_listeners nvmf_get_stats bdev_malloc_create bdev_malloc_delete
bdev_null_create bdev_null_delete bdev_uring_create bdev_uring_delete bdev_get_bdevs
save_config load_config""".split()

results = []


def check(ok, what):
    results.append((bool(ok), what))
    print("%s %d - %s" % ("ok" if ok else "not ok", len(results), what), flush=True)
    return ok


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Target:
    def __init__(self, tgt, workdir, name):
        self.sock = os.path.join(workdir, name + ".sock")
        self.err = open(os.path.join(workdir, name + ".err"), "w+")
        self.out = open(os.path.join(workdir, name + ".out"), "w+")
        self.proc = subprocess.Popen([tgt, "-r", self.sock], stdout=self.out,
                                     stderr=self.err, cwd=workdir)
        for _ in range(600):
            self.out.seek(0)
            if ": ready: " in self.out.read():
                break
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.err.seek(0)
        bad = [l for l in self.err.read().splitlines()
               if ": error: " in l or ": warning: " in l or "runtime error" in l
               or "Sanitizer" in l]
        return rc, bad


class RpcPy:
    def __init__(self, rpc_py, sock):
        self.cmd = [sys.executable, rpc_py, "-s", sock, "-t", "30"]

    def run(self, *args, stdin=None):
        p = subprocess.run(self.cmd + list(args), input=stdin, capture_output=True,
                           text=True, timeout=120)
        return p.returncode, p.stdout, p.stderr

    def json(self, *args):
        rc, out, err = self.run(*args)
        if rc != 0:
            raise RuntimeError("rpc.py %s: exit %d: %s" % (" ".join(args), rc, err))
        return json.loads(out) if out.strip() else None


def phase_transports(rpc, work):
    """VFIOUSER (and RDMA) as rpc.py's command line sends them."""
    vdir = os.path.join(work, "vfu")
    rc, out, err = rpc.run("nvmf_create_transport", "-t", "VFIOUSER")
    check(rc == 0, "nvmf_create_transport -t VFIOUSER %s" % err.strip()[-200:])
    t = rpc.json("nvmf_get_transports", "--trtype", "VFIOUSER")
    check(len(t) == 1 and t[0]["trtype"] == "VFIOUSER" and t[0]["max_queue_depth"] == 256
          and "c2h_success" not in t[0], "nvmf_get_transports --trtype VFIOUSER")
    rc, out, err = rpc.run("nvmf_create_transport", "-t", "VFIOUSER", "-M")
    check(rc != 0 and "disable_mappable_bar0" in out + err,
          "nvmf_create_transport -t VFIOUSER -M: refused, naming the option")
    rpc.run("nvmf_create_subsystem", VFU, "-a", "-s", "VFU1")
    rpc.run("bdev_null_create", "VNull", "16", "512")
    rc, _, _ = rpc.run("nvmf_subsystem_add_ns", VFU, "VNull")
    rc2, _, err = rpc.run("nvmf_subsystem_add_listener", VFU, "-t", "VFIOUSER", "-a", vdir,
                          "-s", "0")
    check(rc == 0 and rc2 == 0 and os.path.exists(os.path.join(vdir, "cntrl")),
          "nvmf_subsystem_add_listener -t VFIOUSER -a DIR -s 0 %s" % err.strip()[-200:])
    want = [{"address": {"trtype": "VFIOUSER", "adrfam": "IPv4", "traddr": vdir, "trsvcid": "0"}}]
    check(rpc.json("nvmf_subsystem_get_listeners", VFU) == want,
          "nvmf_subsystem_get_listeners: the vfio-user listener")
    rc, out, err = rpc.run("nvmf_subsystem_add_listener", S2, "-t", "VFIOUSER", "-a", vdir)
    check(rc != 0 and '"code": -32602' in out + err, "one subsystem per vfio-user socket")
    rc, _, _ = rpc.run("nvmf_subsystem_remove_listener", VFU, "-t", "VFIOUSER", "-a", vdir)
    check(rc == 0 and not os.path.exists(os.path.join(vdir, "cntrl")),
          "nvmf_subsystem_remove_listener -t VFIOUSER (no -s)")
    rc, _, _ = rpc.run("nvmf_subsystem_add_listener", VFU, "-t", "VFIOUSER", "-a", vdir,
                       "-s", "0")
    check(rc == 0, "nvmf_subsystem_add_listener -t VFIOUSER again")
    # RDMA: built into this libnvmft or not, an answer SPDK gives.
    rc, out, err = rpc.run("nvmf_create_transport", "-t", "RDMA", "-s", "1024", "-r", "-l", "64")
    if rc == 0:
        t = rpc.json("nvmf_get_transports", "--trtype", "RDMA")
        check(t[0]["max_srq_depth"] == 1024 and t[0]["no_srq"] is True,
              "nvmf_create_transport -t RDMA -s 1024 -r: max_srq_depth and no_srq used")
    else:
        check("Invalid transport type 'RDMA'" in out + err and '"code": -32602' in out + err,
              "nvmf_create_transport -t RDMA without RDMA: SPDK's error")


def phase_build(rpc, work):
    port, dport = free_port(), free_port()
    img = os.path.join(work, "u0.img")
    with open(img, "wb") as f:
        f.truncate(4 << 20)
    v = rpc.json("spdk_get_version")
    check(v["fields"]["major"] == 25 and v["fields"]["minor"] == 9, "spdk_get_version")
    check(rpc.run("framework_wait_init")[0] == 0, "framework_wait_init")
    methods = rpc.json("rpc_get_methods")
    missing = [m for m in REQUIRED if m not in methods]
    check(not missing, "rpc_get_methods lists every supported method %s" % (missing or ""))
    # The seed scenario, as a storage node's daemon does it.
    rpc.run("nvmf_create_transport", "-t", "TCP", "-u", "16384", "-m", "8", "-c", "8192")
    t = rpc.json("nvmf_get_transports")
    check(len(t) == 1 and t[0]["trtype"] == "TCP" and t[0]["in_capsule_data_size"] == 8192
          and t[0]["max_io_qpairs_per_ctrlr"] == 8, "nvmf_create_transport, nvmf_get_transports")
    rc, out, _ = rpc.run("bdev_malloc_create", "64", "512", "-b", "abcd-uuid")
    check(rc == 0 and out.strip() == "abcd-uuid", "bdev_malloc_create")
    rc, out, _ = rpc.run("bdev_null_create", "Null0", "16", "4096")
    check(rc == 0 and out.strip() == "Null0", "bdev_null_create")
    rc, out, _ = rpc.run("bdev_uring_create", img, "U0", "4096")
    check(rc == 0 and out.strip() == "U0", "bdev_uring_create")
    rc, _, _ = rpc.run("nvmf_create_subsystem", LVOL, "-a", "-s", "EXC0001", "-d", "excloud lvol")
    check(rc == 0, "nvmf_create_subsystem")
    rc, out, err = rpc.run("nvmf_create_subsystem", LVOL)
    check(rc != 0 and '"code": -32603' in out + err and "Unable to create subsystem" in out + err,
          "nvmf_create_subsystem again: SPDK's error")
    # rpc.py prints nothing for add_ns: the NSIDs show in nvmf_get_subsystems below.
    rc, out, _ = rpc.run("nvmf_subsystem_add_ns", LVOL, "abcd-uuid")
    check(rc == 0, "nvmf_subsystem_add_ns")
    rc, out, _ = rpc.run("nvmf_subsystem_add_ns", "-n", "5", LVOL, "Null0")
    check(rc == 0, "nvmf_subsystem_add_ns -n 5")
    rc, _, _ = rpc.run("nvmf_subsystem_add_listener", LVOL, "-t", "tcp", "-a", "127.0.0.1",
                       "-s", str(port), "-f", "ipv4")
    check(rc == 0, "nvmf_subsystem_add_listener")
    rc, _, _ = rpc.run("nvmf_subsystem_add_listener", DISCOVERY, "-t", "tcp", "-a",
                       "127.0.0.1", "-s", str(dport))
    check(rc == 0, "nvmf_subsystem_add_listener (discovery)")
    rpc.run("nvmf_create_subsystem", S2, "-s", "S2")
    rc, _, _ = rpc.run("nvmf_subsystem_add_host", S2, HOST)
    check(rc == 0, "nvmf_subsystem_add_host")
    rc, _, _ = rpc.run("nvmf_subsystem_add_ns", S2, "U0")
    rc2, _, _ = rpc.run("nvmf_subsystem_allow_any_host", "-e", S2)
    rc3, _, _ = rpc.run("nvmf_subsystem_allow_any_host", "-d", S2)
    check(rc == 0 and rc2 == 0 and rc3 == 0, "nvmf_subsystem_allow_any_host -e/-d")
    subs = {s["nqn"]: s for s in rpc.json("nvmf_get_subsystems")}
    lv = subs.get(LVOL, {})
    check(lv.get("serial_number") == "EXC0001" and lv.get("model_number") == "excloud lvol"
          and [n["nsid"] for n in lv.get("namespaces", [])] == [1, 5]
          and lv["listen_addresses"][0]["trsvcid"] == str(port)
          and subs[DISCOVERY]["listen_addresses"][0]["trsvcid"] == str(dport)
          and subs[S2]["hosts"] == [{"nqn": HOST}] and subs[S2]["allow_any_host"] is False,
          "nvmf_get_subsystems")
    lst = rpc.json("nvmf_subsystem_get_listeners", LVOL)
    check(lst == [{"address": {"trtype": "TCP", "adrfam": "IPv4", "traddr": "127.0.0.1",
                               "trsvcid": str(port)}}], "nvmf_subsystem_get_listeners")
    check(rpc.json("nvmf_subsystem_get_controllers", LVOL) == [], "nvmf_subsystem_get_controllers")
    check(rpc.json("nvmf_subsystem_get_qpairs", LVOL) == [], "nvmf_subsystem_get_qpairs")
    st = rpc.json("nvmf_get_stats")
    check(len(st["poll_groups"]) == 1 and st["poll_groups"][0]["transports"] == [{"trtype": "TCP"}],
          "nvmf_get_stats")
    b = {x["name"]: x for x in rpc.json("bdev_get_bdevs")}
    check(set(b) == {"abcd-uuid", "Null0", "U0"} and b["U0"]["block_size"] == 4096
          and b["abcd-uuid"]["claimed"] is True and b["Null0"]["num_blocks"] == 4096,
          "bdev_get_bdevs")
    phase_transports(rpc, work)
    # Taking some of it down again.
    rc, _, _ = rpc.run("nvmf_subsystem_remove_ns", LVOL, "5")
    rc2, _, _ = rpc.run("bdev_null_delete", "Null0")
    check(rc == 0 and rc2 == 0, "nvmf_subsystem_remove_ns, bdev_null_delete")
    rc, _, _ = rpc.run("nvmf_subsystem_remove_host", S2, HOST)
    check(rc == 0, "nvmf_subsystem_remove_host")
    rc, _, _ = rpc.run("nvmf_subsystem_remove_listener", DISCOVERY, "-t", "tcp", "-a",
                       "127.0.0.1", "-s", str(dport))
    check(rc == 0, "nvmf_subsystem_remove_listener")
    rc, out, err = rpc.run("bdev_malloc_delete", "Null0")
    check(rc != 0 and '"code": -19' in out + err, "bdev_malloc_delete of nothing: -19")
    rc, _, _ = rpc.run("nvmf_create_subsystem", "nqn.2024-01.io.test:gone")
    rc2, _, _ = rpc.run("nvmf_delete_subsystem", "nqn.2024-01.io.test:gone")
    check(rc == 0 and rc2 == 0, "nvmf_delete_subsystem")
    rc, out, _ = rpc.run("save_config")
    check(rc == 0 and json.loads(out)["subsystems"], "save_config (framework_get_config)")
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tgt", required=True)
    ap.add_argument("--rpc-py", required=True)
    ap.add_argument("--workdir", required=True)
    a = ap.parse_args()
    a.rpc_py = os.environ.get("SPDK_RPC_PY", a.rpc_py)
    if "vgpreload" in os.environ.get("LD_PRELOAD", ""):
        # Under memcheck (scripts/test.sh's valgrind pass) this would check the
        # Python interpreter; the cmocka tests run the daemon under it instead.
        print("1..0 # SKIP under valgrind")
        return 77
    if not os.path.isfile(a.rpc_py):
        print("1..0 # SKIP no SPDK rpc.py at %s" % a.rpc_py)
        return 77
    shutil.rmtree(a.workdir, ignore_errors=True)
    os.makedirs(a.workdir)
    work = tempfile.mkdtemp(prefix="nvmft-rpcpy-", dir=a.workdir)
    first = Target(a.tgt, work, "first")
    second = None
    try:
        saved = phase_build(RpcPy(a.rpc_py, first.sock), work)
        with open(os.path.join(work, "saved.json"), "w") as f:
            f.write(saved)
        rc, bad = first.stop()
        check(rc == 0 and not bad, "first target: exit 0, no error on stderr %s" % (bad or ""))
        # rpc.py's load_config: one call per entry, into a fresh target.
        second = Target(a.tgt, work, "second")
        rpc = RpcPy(a.rpc_py, second.sock)
        rc, _, err = rpc.run("load_config", "-j", os.path.join(work, "saved.json"))
        check(rc == 0, "load_config (rpc.py, method by method) %s" % err.strip()[-300:])
        rc, again, _ = rpc.run("save_config")
        check(rc == 0 and json.loads(again) == json.loads(saved),
              "save_config after load_config: the same configuration")
        rc, bad = second.stop()
        second = None
        check(rc == 0 and not bad, "second target: exit 0, no error on stderr %s" % (bad or ""))
    except Exception as e:  # a failure, not a crash: report it as one
        check(False, "unexpected: %r" % (e,))
    finally:
        for t in (first, second):
            if t is not None and t.proc.poll() is None:
                t.proc.kill()
                t.proc.wait()
    print("1..%d" % len(results))
    return 0 if all(ok for ok, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
