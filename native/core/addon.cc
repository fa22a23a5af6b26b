// Entry point: registers each concept's bindings and the environment's waiter threads.
#include "core/addon.h"

#include "comm/fd_passing.h"
#include "comm/fd_watch.h"
#include "comm/socket.h"
#include "comm/stream_io.h"
#include "core/layout.h"
#include "memory/mapping.h"
#include "memory/mirror.h"
#include "memory/shm.h"
#include "process/process.h"
#include "sync/atomics.h"
#include "sync/lock.h"
#include "sync/semaphore.h"
#include "wait/waiter.h"

namespace pmp {

Addon& GetAddon(Napi::Env env) { return *env.GetInstanceData<Addon>(); }

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* addon = new Addon();
  addon->waiter = std::make_unique<Waiter>(env);
  env.SetInstanceData(addon);
  // Runs before the environment is torn down (process exit, worker_thread termination): no waiter thread
  // may outlive the environment whose threadsafe function it reports to.
  env.AddCleanupHook([addon] { addon->waiter->Shutdown(); });

  InitLayout(env, exports);
  InitWaiter(env, exports);
  InitMapping(env, exports);
  InitMirror(env, exports);
  InitShm(env, exports);
  InitSemaphore(env, exports);
  InitAtomics(env, exports);
  InitLock(env, exports);
  InitFdPassing(env, exports);
  InitFdWatch(env, exports);
  InitStreamIo(env, exports);
  InitSocket(env, exports);
  InitProcess(env, exports);
  return exports;
}

}  // namespace pmp

static Napi::Object InitPosixMp(Napi::Env env, Napi::Object exports) { return pmp::Init(env, exports); }
NODE_API_MODULE(posix_mp, InitPosixMp)
