#include "core/background_thread.h"

#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <mutex>

namespace pmp {

namespace {

std::atomic<int> started{0};

// Keeps this library mapped until the process ends. Node unloads (dlclose) an addon when the last
// environment that loaded it ends — a worker_thread, say — but the threads started here can outlive their
// environment for a moment (a waiter thread returning after its shutdown, the spawner reaping an orphan),
// and code unmapped under them would crash the process.
void PinLibrary() {
  static std::once_flag once;
  std::call_once(once, [] {
    Dl_info info;
    if (dladdr(reinterpret_cast<void*>(&PinLibrary), &info) != 0 && info.dli_fname != nullptr) {
      // A handle that is never closed, on an object that is never unloaded (RTLD_NODELETE).
      dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
    }
  });
}

}  // namespace

int StartBackgroundThread(void* (*entry)(void*), void* arg, size_t stack_size) {
  PinLibrary();
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, stack_size);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  // A new thread inherits the creator's signal mask: block everything just around pthread_create.
  sigset_t all, previous;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &previous);
  pthread_t thread;
  const int rc = pthread_create(&thread, &attr, entry, arg);
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  pthread_attr_destroy(&attr);
  if (rc == 0) started.fetch_add(1, std::memory_order_relaxed);
  return rc;
}

int BackgroundThreadsStarted() { return started.load(std::memory_order_relaxed); }

}  // namespace pmp
