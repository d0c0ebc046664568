#!/usr/bin/env bash
# Builds the firmware, runs it under QEMU (mps2-an386, a Cortex-M4) and prints its figures:
# the applier's code size and the stack high-water mark it reports. Fails when the
# firmware reports a wrong result (semihosting exit code).
set -euo pipefail
cd "$(dirname "$0")"
cargo build -q --release
elf=target/thumbv7em-none-eabihf/release/update-demo
timeout 120 qemu-system-arm -cpu cortex-m4 -machine mps2-an386 -nographic \
  -semihosting-config enable=on,target=native -kernel "$elf"
# Code size: the whole .text, and the functions of the applier (the core, the adapters,
# SHA-256, and `main`, into which the apply and resume loops are inlined).
readelf -sW -C "$elf" | awk '
  $4 == "FUNC" {
    total += $3
    if ($0 ~ /splitfdstream|sha2::|digest::|block_buffer|__cortex_m_rt_main/) applier += $3
  }
  END { printf "update-demo: code: %d bytes of functions, %d of them the applier with SHA-256\n", total, applier }'
