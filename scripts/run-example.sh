#!/usr/bin/env bash
# Build libnvmft and run the example target: a 1 GiB RAM namespace exported
# over NVMe/TCP on 127.0.0.1:4420.  Extra arguments go to nvmft-tgt.
# Ctrl-C stops it cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."
NVMFT_NO_VM=1 ./scripts/setup-deps.sh
if [ -d build ]; then
	meson setup --reconfigure build >/dev/null
else
	meson setup build >/dev/null
fi
ninja -C build examples/nvmft-tgt >/dev/null
nqn=nqn.2024-01.io.libnvmft:ram0
cat <<MSG
Connect from a Linux host (nvme-cli):
    nvme discover -t tcp -a 127.0.0.1 -s 4420
    nvme connect  -t tcp -a 127.0.0.1 -s 4420 -n $nqn
From a VM or another machine, listen on a reachable address instead:
    ./scripts/run-example.sh is a thin wrapper; run build/examples/nvmft-tgt --help
MSG
exec ./build/examples/nvmft-tgt -l tcp:127.0.0.1:4420 -n "$nqn" --ns ram:1G "$@"
