#!/usr/bin/env bash
# Configures and builds spanwire into build/ (or $BUILD_DIR).
#   scripts/build.sh [Release|RelWithDebInfo|Debug] [extra cmake args...]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
TYPE=${1:-RelWithDebInfo}
shift || true
GENERATOR=()
command -v ninja >/dev/null && GENERATOR=(-G Ninja)
# The generator is chosen once, when the build directory is created.
[ -f "$BUILD_DIR/CMakeCache.txt" ] && GENERATOR=()
cmake -S . -B "$BUILD_DIR" "${GENERATOR[@]}" -DCMAKE_BUILD_TYPE="$TYPE" "$@" >/dev/null
cmake --build "$BUILD_DIR" -j "$(nproc)"
echo "build.sh: built $BUILD_DIR/spanwire ($TYPE)"
