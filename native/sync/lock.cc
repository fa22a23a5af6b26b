#include "sync/lock.h"

#include <pthread.h>

#include <posix_mp.h>

#include "core/addon.h"
#include "core/errors.h"
#include "wait/futex.h"
#include "memory/mapping.h"
#include "wait/waiter.h"

namespace pmp {

namespace {

// This process's owner token: waiter threads take locks on the process's behalf with it. Computed at load,
// and again in a child forked without exec (the fork server's children), which is another owner.
uint64_t self_token = pmp_self_token();

void RenewSelfToken() { self_token = pmp_self_token(); }

pmp_lock* LockAt(const MappedRange& range) {
  if (reinterpret_cast<uintptr_t>(range.address) % alignof(pmp_lock) != 0) return nullptr;
  return reinterpret_cast<pmp_lock*>(range.address);
}

MappedRange LockRange(const Napi::CallbackInfo& info) {
  MappedRange range = MappedRangeOf(info.Env(), info[0], ArgUint32(info, 1), sizeof(pmp_lock));
  if (LockAt(range) == nullptr) throw ArgTypeError(info.Env(), "misaligned lock offset");
  return range;
}

int StatusOf(int acquired) {
  switch (acquired) {
    case 0: return static_cast<int>(WaitStatus::kOk);
    case PMP_OWNER_DIED: return static_cast<int>(WaitStatus::kOwnerDied);
    case ECANCELED: return static_cast<int>(WaitStatus::kCancelled);
    default: return static_cast<int>(WaitStatus::kTimedOut);  // ETIMEDOUT, or EBUSY from a try
  }
}

// pmp_sleep_fn for waiter threads: a futex sleep that cancellation interrupts at once.
int CancellableSleep(const uint32_t* word, uint32_t expected, const timespec* until, void* cancel) {
  Deadline deadline;
  deadline.infinite = false;
  deadline.at = *until;
  WaitStatus status = FutexWaitCancellable(word, expected, deadline, static_cast<const std::atomic<uint32_t>*>(cancel));
  return status == WaitStatus::kCancelled ? ECANCELED : 0;
}

class LockWaitJob : public WaitJob {
 public:
  explicit LockWaitJob(MappedRange range) : range_(std::move(range)) {}
  int Run(const Deadline& deadline, const std::atomic<uint32_t>* cancel) override {
    return StatusOf(pmp_lock_acquire_with(LockAt(range_), self_token, deadline.Ptr(), CancellableSleep,
                                          const_cast<std::atomic<uint32_t>*>(cancel)));
  }
  void GiveBack() override { pmp_lock_release(LockAt(range_)); }

 private:
  MappedRange range_;
};

Napi::Value SelfToken(const Napi::CallbackInfo& info) { return Napi::BigInt::New(info.Env(), self_token); }

// lockTry(buffer, offset) -> WaitStatus: kOk, kOwnerDied, or kTimedOut when the lock is held by a live owner.
Napi::Value LockTry(const Napi::CallbackInfo& info) {
  MappedRange range = LockRange(info);
  return Napi::Number::New(info.Env(), StatusOf(pmp_lock_try(LockAt(range), self_token)));
}

// lockAcquireSync(buffer, offset, timeoutMs) -> WaitStatus (kOk, kOwnerDied, kTimedOut). Blocks this thread.
Napi::Value LockAcquireSync(const Napi::CallbackInfo& info) {
  MappedRange range = LockRange(info);
  const Deadline deadline = Deadline::FromMs(ArgNumber(info, 2));
  return Napi::Number::New(info.Env(), StatusOf(pmp_lock_acquire_with(LockAt(range), self_token, deadline.Ptr(),
                                                                      pmp_futex_sleep, nullptr)));
}

// lockAcquireAsync(buffer, offset, timeoutMs, callback) -> wait id.
Napi::Value LockAcquireAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  MappedRange range = LockRange(info);
  const Deadline deadline = Deadline::FromMs(ArgNumber(info, 2));
  Napi::Function callback = ArgFunction(info, 3);
  auto job = std::make_unique<LockWaitJob>(std::move(range));
  return Napi::Number::New(env, GetAddon(env).waiter->Submit(std::move(job), deadline, callback));
}

// lockWake(buffer, offset): wakes one sleeper after lib/sync/lock.ts released a word that had the waiters bit.
Napi::Value LockWake(const Napi::CallbackInfo& info) {
  MappedRange range = LockRange(info);
  FutexWake(pmp_lock_futex(LockAt(range)), 1);
  return info.Env().Undefined();
}

}  // namespace

void InitLock(Napi::Env env, Napi::Object exports) {
  // Once per process (the addon may be loaded by several worker_threads).
  static const int registered = pthread_atfork(nullptr, nullptr, RenewSelfToken);
  (void)registered;
  exports.Set("selfToken", Napi::Function::New(env, SelfToken, "selfToken"));
  exports.Set("lockTry", Napi::Function::New(env, LockTry, "lockTry"));
  exports.Set("lockAcquireSync", Napi::Function::New(env, LockAcquireSync, "lockAcquireSync"));
  exports.Set("lockAcquireAsync", Napi::Function::New(env, LockAcquireAsync, "lockAcquireAsync"));
  exports.Set("lockWake", Napi::Function::New(env, LockWake, "lockWake"));
}

}  // namespace pmp
