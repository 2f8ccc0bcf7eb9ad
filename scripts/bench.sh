#!/usr/bin/env bash
# What the sensor costs the traced host: builds in release mode and measures,
# side by side (without/with the sensor, interleaved), kernel cost per hook,
# nginx throughput and latency, sensor CPU and memory, completeness under load
# and parser speed. Prints a table; the JSON goes to bench-results/.
#   sudo ./scripts/bench.sh [--rounds N] [--seconds S] [--quick]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
BUILD_DIR=${BENCH_BUILD_DIR:-build-release} bash scripts/build.sh Release -DSPANWIRE_BUILD_BENCH=ON
mountpoint -q /sys/kernel/tracing || mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null || true
exec /usr/bin/python3 tests/bench/run_bench.py --build-dir "${BENCH_BUILD_DIR:-build-release}" "$@"
