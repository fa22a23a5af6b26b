#!/usr/bin/env bash
# Runs the test suite, then a short soak test (scripts/soak.mjs: processes SIGKILLed at random while they
# wait, lock, post, queue, run Pool tasks and update Manager containers), against the AddressSanitizer +
# UndefinedBehaviorSanitizer build of both addons (posix_mp.node and the fork server's). Node itself is not
# instrumented, so the ASan runtime is preloaded (child processes inherit it, POSIX_MP_ADDON and
# POSIX_MP_FORKSERVER_ADDON, so every Node process of the tests and of the soak — the fork server and the
# children it forks included — loads the sanitized addons); leak detection is off because Node deliberately
# leaves memory to the OS at exit.
#
#   npm run test:sanitize                         # the whole suite, then a 1-minute soak
#   npm run test:sanitize -- test/lock.test.ts    # some test files (arguments go to vitest)
#   SOAK_MINUTES=0 npm run test:sanitize          # no soak; SOAK_MINUTES=10 for a longer one
set -euo pipefail
cd "$(dirname "$0")/.."
npm run build:debug
npm run build:ts
export POSIX_MP_ADDON="$PWD/build-cmake/Debug/posix_mp.node"
export POSIX_MP_FORKSERVER_ADDON="$PWD/build-cmake/Debug/posix_mp_forkserver.so"
export LD_PRELOAD="$(gcc -print-file-name=libasan.so)"
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
npx vitest run "$@"
if [ "${SOAK_MINUTES:-1}" != 0 ]; then
  # Survivors' RSS grows by up to ASan's quarantine of freed memory (256 MiB): allow for it.
  node scripts/soak.mjs --minutes "${SOAK_MINUTES:-1}" --rss-slack-mb 512
fi
