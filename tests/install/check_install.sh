#!/usr/bin/env bash
# Installs the library from BUILD_DIR into a temporary prefix, builds a consumer with
# find_package(sop_telemetry), and runs it: the exported CMake package must work.
set -euo pipefail
build_dir=$(realpath "$1")
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build_dir" --prefix "$work/prefix" >/dev/null
mkdir -p "$work/consumer"
cp "$root/examples/quick_start.cpp" "$work/consumer/main.cpp"
cat > "$work/consumer/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.22)
project(consumer CXX)
set(CMAKE_CXX_STANDARD 20)
find_package(sop_telemetry REQUIRED)
add_executable(consumer main.cpp)
target_link_libraries(consumer PRIVATE sop_telemetry::sop_telemetry)
CMAKE
cmake -S "$work/consumer" -B "$work/consumer/build" -G Ninja -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/consumer/build" >/dev/null
output=$(SOP_TELEMETRY_DIR="$work/store" "$work/consumer/build/consumer")
if [ "$output" = "1350 tokens" ] && ls "$work/store"/*.json >/dev/null 2>&1; then
    echo "install check: 1 passed, 0 failed"
else
    echo "install check: consumer printed '$output'"
    echo "0 passed, 1 failed"
    exit 1
fi
