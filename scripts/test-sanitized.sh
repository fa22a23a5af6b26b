#!/usr/bin/env bash
# Runs the test suite against the AddressSanitizer + UndefinedBehaviorSanitizer build of the addon.
# Node itself is not instrumented, so the ASan runtime is preloaded; leak detection is off because Node
# deliberately leaves memory to the OS at exit.
set -euo pipefail
cd "$(dirname "$0")/.."
npm run build:debug
npm run build:ts
export POSIX_MP_ADDON="$PWD/build-cmake/Debug/posix_mp.node"
export LD_PRELOAD="$(gcc -print-file-name=libasan.so)"
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
exec npx vitest run "$@"
