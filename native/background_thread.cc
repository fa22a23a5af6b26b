#include "background_thread.h"

#include <pthread.h>
#include <signal.h>

namespace pmp {

int StartBackgroundThread(void* (*entry)(void*), void* arg, size_t stack_size) {
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
  return rc;
}

}  // namespace pmp
