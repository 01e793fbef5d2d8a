#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# How spdk_v25.09_rpc.json was made: send a fixed list of JSON-RPC requests
# to a running SPDK nvmf_tgt and record each exact response.  The target was
# SPDK v25.09 as /work/spdk/start-spdk-tgt.sh starts it (a TCP transport, a
# null bdev Null0 in SUBNQN, a listener), with spdk_nvme_perf connected to
# SUBNQN so that controllers and queue pairs exist.  test_nvmft_tgt_rpc
# replays the same requests against nvmft-tgt in the same state and compares.
#
# Usage: spdk_rpc_capture.py RPC_SOCKET SUBNQN FREE_PORT > spdk_v25.09_rpc.json
import json, socket, sys

def call(path, req):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    s.sendall(json.dumps(req).encode())
    buf = b''
    dec = json.JSONDecoder()
    while True:
        d = s.recv(65536)
        if not d:
            break
        buf += d
        try:
            obj, _ = dec.raw_decode(buf.decode())
            break
        except ValueError:
            continue
    s.close()
    return obj

NQN = "nqn.2024-01.io.excloud:storage.node.disk.lvol"
HOST = "nqn.2014-08.org.nvmexpress:uuid:0c5b1d5e-2c51-4c2f-9d8e-3a4c5b6d7e8f"
LA = {"trtype": "TCP", "adrfam": "IPv4", "traddr": "127.0.0.1", "trsvcid": sys.argv[3]}
reqs = [
    ("spdk_get_version", None),
    ("framework_wait_init", None),
    ("framework_get_subsystems", None),
    ("nvmf_get_transports", None),
    ("nvmf_get_transports", {"trtype": "RDMA"}),
    ("nvmf_create_transport", {"trtype": "TCP"}),
    ("nvmf_create_transport", {"trtype": "RDMA"}),
    ("nvmf_create_transport", {"trtype": "VFIOUSER"}),
    ("nvmf_create_subsystem", {"nqn": NQN, "allow_any_host": True, "serial_number": "EXC0001", "model_number": "excloud lvol"}),
    ("nvmf_create_subsystem", {"nqn": NQN}),
    ("nvmf_create_subsystem", {"nqn": "nqn.2024-01.io.excloud:other", "bogus": 1}),
    ("nvmf_create_subsystem", {}),
    ("bdev_malloc_create", {"name": "abcd-uuid", "num_blocks": 2048, "block_size": 512, "uuid": "6f1c2ad0-8e3b-4b9a-9c55-1d2e3f405162"}),
    ("bdev_malloc_create", {"name": "abcd-uuid", "num_blocks": 2048, "block_size": 512}),
    ("bdev_malloc_create", {"name": "bad-bs", "num_blocks": 2048, "block_size": 500}),
    ("bdev_malloc_create", {"name": "bad-type", "num_blocks": "x", "block_size": 512}),
    ("nvmf_subsystem_add_ns", {"nqn": NQN, "namespace": {"bdev_name": "abcd-uuid"}}),
    ("nvmf_subsystem_add_ns", {"nqn": NQN, "namespace": {"bdev_name": "no-such-bdev"}}),
    ("nvmf_subsystem_add_ns", {"nqn": "nqn.2024-01.io.excloud:none", "namespace": {"bdev_name": "abcd-uuid"}}),
    ("nvmf_subsystem_add_listener", {"nqn": NQN, "listen_address": LA}),
    ("nvmf_subsystem_add_listener", {"nqn": NQN, "listen_address": LA}),
    ("nvmf_subsystem_get_listeners", {"nqn": NQN}),
    ("nvmf_subsystem_get_listeners", {"nqn": "nqn.2024-01.io.excloud:none"}),
    ("nvmf_subsystem_add_host", {"nqn": NQN, "host": HOST}),
    ("nvmf_subsystem_allow_any_host", {"nqn": NQN, "allow_any_host": False}),
    ("nvmf_get_subsystems", {"nqn": NQN}),
    ("nvmf_get_subsystems", {"nqn": "nqn.2024-01.io.excloud:none"}),
    ("nvmf_subsystem_remove_host", {"nqn": NQN, "host": HOST}),
    ("nvmf_subsystem_remove_host", {"nqn": NQN, "host": HOST}),
    ("nvmf_subsystem_get_controllers", {"nqn": sys.argv[2]}),
    ("nvmf_subsystem_get_qpairs", {"nqn": sys.argv[2]}),
    ("nvmf_subsystem_get_controllers", {"nqn": NQN}),
    ("nvmf_get_stats", None),
    ("bdev_get_bdevs", {"name": "abcd-uuid"}),
    ("bdev_get_bdevs", {"name": "no-such-bdev"}),
    ("bdev_null_create", {"name": "null-cap", "num_blocks": 1024, "block_size": 4096}),
    ("bdev_get_bdevs", {"name": "null-cap"}),
    ("bdev_null_delete", {"name": "null-cap"}),
    ("bdev_null_delete", {"name": "null-cap"}),
    ("nvmf_subsystem_remove_listener", {"nqn": NQN, "listen_address": LA}),
    ("nvmf_subsystem_remove_ns", {"nqn": NQN, "nsid": 1}),
    ("nvmf_subsystem_remove_ns", {"nqn": NQN, "nsid": 1}),
    ("bdev_malloc_delete", {"name": "abcd-uuid"}),
    ("bdev_malloc_delete", {"name": "abcd-uuid"}),
    ("nvmf_delete_subsystem", {"nqn": NQN}),
    ("nvmf_delete_subsystem", {"nqn": NQN}),
    ("no_such_method", None),
    ("spdk_get_version", {"x": 1}),
    ("rpc_get_methods", {"current": "yes"}),
    ("framework_get_config", {"name": "nosuch"}),
]
out = []
for i, (m, p) in enumerate(reqs, 1):
    req = {"jsonrpc": "2.0", "id": i, "method": m}
    if p is not None:
        req["params"] = p
    out.append({"request": req, "response": call(sys.argv[1], req)})
json.dump(out, sys.stdout, indent=1)
print()
