#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Install what libnvmft's build and tests need on Debian 12, then prepare the
# Linux host VM used by the end-to-end tests.  Idempotent: packages already
# installed are not touched, and apt-get update runs only when one is missing.
#
# Usage: scripts/setup-deps.sh
# Env:   NVMFT_NO_VM=1           skip the VM harness (../shared/linux-host/setup)
#        NVMFT_LINUX_HOST_DIR=D  harness location (default: <repo>/../shared/linux-host)
# Needs root, or sudo when run as another user.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)

packages=(
	# build
	meson ninja-build pkg-config gcc g++ libc6-dev binutils clang llvm
	libclang-rt-14-dev python3
	# libraries
	liburing-dev libnvme-dev libjson-c-dev libbsd-dev libibverbs-dev librdmacm-dev libjansson-dev
	# tests
	libcmocka-dev abigail-tools valgrind iproute2
	# the soft-RoCE provider (librxe) the RDMA end-to-end test copies into the VM
	ibverbs-providers
)

log() { printf 'setup-deps: %s\n' "$*"; }

as_root() {
	if [ "$(id -u)" = 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		log "need root (or sudo) for: $*" >&2
		exit 1
	fi
}

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -qx installed || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	log "installing: ${missing[*]}"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
	as_root env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
	log "all ${#packages[@]} packages already installed"
fi

vm_dir=${NVMFT_LINUX_HOST_DIR:-$repo/../shared/linux-host}
if [ "${NVMFT_NO_VM:-0}" = 1 ]; then
	log "NVMFT_NO_VM=1: not preparing the Linux host VM"
elif [ -f "$vm_dir/setup" ]; then
	vm_dir=$(cd "$vm_dir" && pwd)
	log "preparing the Linux host VM: $vm_dir/setup"
	# Run through bash: the shared folder may be a copy without mode bits.
	as_root bash "$vm_dir/setup"
else
	log "no Linux host harness at $vm_dir: the end-to-end tests cannot run"
fi
