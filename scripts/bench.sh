#!/usr/bin/env bash
# What the sensor costs the traced host: builds in release mode and measures,
# side by side (without/with the sensor, interleaved), kernel cost per hook,
# nginx throughput and latency, sensor CPU and memory, completeness under load
# and parser speed. Prints a table; the JSON goes to bench-results/.
#   sudo ./scripts/bench.sh [--rounds N] [--seconds S] [--quick]
# A change against the commit before it: this tree's sensor and the one built
# from REV (in a temporary git worktree), interleaved round by round
# (tests/bench/compare_sensors.py):
#   sudo ./scripts/bench.sh --against REV [--rounds N] [--seconds S] [--rate R]
set -euo pipefail
cd "$(dirname "$0")/.."
against=
if [[ "${1:-}" == --against ]]; then
  against=${2:?"--against needs a commit, e.g. --against HEAD~1"}
  shift 2
fi
bash scripts/setup.sh
BUILD=${BENCH_BUILD_DIR:-build-release}
BUILD_DIR=$BUILD bash scripts/build.sh Release -DSPANWIRE_BUILD_BENCH=ON
mountpoint -q /sys/kernel/tracing || mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null || true
if [[ -z "$against" ]]; then
  exec /usr/bin/python3 tests/bench/run_bench.py --build-dir "$BUILD" "$@"
fi

base_tree=$(mktemp -d /tmp/spanwire-base.XXXXXX)
trap 'git worktree remove --force "$base_tree" >/dev/null 2>&1 || rm -rf "$base_tree"' EXIT
git worktree add --detach -q "$base_tree" "$against"
# Only its sensor binary is used: the load tools and the collector are this tree's.
cmake -S "$base_tree" -B "$base_tree/build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$base_tree/build" -j "$(nproc)" --target spanwire
/usr/bin/python3 tests/bench/compare_sensors.py --base-build "$base_tree/build" --new-build "$BUILD" "$@"
