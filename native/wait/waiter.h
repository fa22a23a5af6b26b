// Async waits without libuv's thread pool. Each pending wait runs its blocking call on a dedicated native
// thread of this environment's Waiter; the result comes back to JS through one threadsafe function. Threads
// are persistent (a few idle ones are kept, extras retire after a while), so a wait costs a hand-off, not a
// thread start. Cancellation wakes the waiting thread at once through a private cancel word.
#pragma once

#include <napi.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "core/deadline.h"
#include "wait/futex.h"

namespace pmp {

// One blocking operation. Run() executes on a waiter thread and returns a WaitStatus value, or a negative
// errno for a system error. Whatever memory it touches it must own (e.g. via shared_ptr to the mapping).
class WaitJob {
 public:
  virtual ~WaitJob() = default;
  virtual int Run(const Deadline& deadline, const std::atomic<uint32_t>* cancel) = 0;
  // Undoes a successful Run whose result can no longer reach JS (the environment is going away): a taken
  // semaphore token or lock must not be lost to the other processes.
  virtual void GiveBack() {}
};

class Waiter {
 public:
  explicit Waiter(Napi::Env env);
  Waiter(const Waiter&) = delete;
  Waiter& operator=(const Waiter&) = delete;

  // Starts `job`; `callback(result)` is called on the JS thread when it finishes. Returns the wait's id.
  uint32_t Submit(std::unique_ptr<WaitJob> job, const Deadline& deadline, Napi::Function callback);
  // Wakes the wait with kCancelled (unless it already finished). Returns false for an unknown id.
  bool Cancel(uint32_t id);
  // Environment teardown: cancels everything, joins the threads and drops undelivered results.
  void Shutdown();

  size_t Pending() const { return active_.size(); }

 private:
  // A wait's progress, exchanged between its waiter thread (kRunning -> kDone when Run returns) and Cancel on
  // the JS thread (-> kAbandoned). Whichever side comes second gives back what Run took, so a cancelled
  // wait never holds a token or lock for a moment longer than the cancel — not even until its result is
  // delivered, which a blocking acquireSync on the JS thread would otherwise wait for forever.
  enum State : int { kRunning, kDone, kAbandoned };
  struct Wait {
    uint32_t id;
    std::unique_ptr<WaitJob> job;
    Deadline deadline;
    std::atomic<uint32_t> cancel{0};
    std::atomic<int> state{kRunning};
    int result = 0;
  };
  static void GiveBackIfTaken(Wait* wait);
  struct Active {
    std::shared_ptr<Wait> wait;
    Napi::FunctionReference callback;
  };
  static void CallJs(Napi::Env env, Napi::Function, Waiter* waiter, std::shared_ptr<Wait>* wait);
  using Tsfn = Napi::TypedThreadSafeFunction<Waiter, std::shared_ptr<Wait>, CallJs>;

  void Deliver(const std::shared_ptr<Wait>& wait);
  void StartThread();
  void ThreadMain();

  // Touched by the JS thread only.
  Tsfn tsfn_;
  std::unordered_map<uint32_t, Active> active_;
  uint32_t next_id_ = 1;
  bool referenced_ = false;

  // Shared with the waiter threads, under mutex_.
  std::mutex mutex_;
  std::condition_variable work_ready_;
  std::condition_variable thread_exited_;
  std::deque<std::shared_ptr<Wait>> queue_;
  size_t idle_ = 0;
  size_t live_ = 0;
  bool stopping_ = false;
};

void InitWaiter(Napi::Env env, Napi::Object exports);

}  // namespace pmp
