// Routes V8's worker-thread tasks of Node's platform to a WorkerPool, by replacing three slots of the
// NodePlatform object's virtual table: CallOnWorkerThread, CallDelayedOnWorkerThread and DrainTasks. This
// depends on Node internals (the mangled names and their presence in the table), which is why the lookup is
// also the fork server's self-check: when anything is not where it is expected, nothing is changed and the
// library starts processes with 'spawn' instead.
#pragma once

#include <node.h>

#include <string>

#include "forkserver/worker_pool.h"

namespace pmpfs {

// Empty if the platform can be hooked; otherwise why not.
std::string CheckPlatform(node::MultiIsolatePlatform* platform);

// Hooks the platform (once per process; later calls do nothing). Empty on success, else why not.
std::string HookPlatform(node::MultiIsolatePlatform* platform, int threads);

// The pool V8's worker tasks run on once the platform is hooked, else null.
WorkerPool* HookedPool();

// In a forked child, after a successful HookedPool()->Quiesce(): the pool of this process from now on.
void ReplacePool(WorkerPool* pool);

}  // namespace pmpfs
