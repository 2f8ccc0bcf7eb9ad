#!/usr/bin/env bash
# One command on a fresh machine: install what is missing, build, and run the
# sensor. With no collector configured (--otlp-endpoint or
# OTEL_EXPORTER_OTLP_ENDPOINT) it prints one line per span.
#   sudo ./scripts/run.sh [spanwire run flags...]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --build-only
bash scripts/build.sh RelWithDebInfo -DSPANWIRE_BUILD_TESTS=OFF >&2
exec ./build/spanwire run "$@"
