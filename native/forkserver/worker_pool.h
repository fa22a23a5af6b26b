// The V8 background-task pool of a fork-server zygote and of the children it forks. NodePlatform's own worker
// threads cannot be quiesced and do not exist in a forked child (V8 would wait for them forever: GC, wasm
// compilation, exit), so the zygote routes V8's worker tasks here instead (see platform_hooks.h).
#pragma once

#include <v8-platform.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>

namespace pmpfs {

class WorkerPool {
 public:
  explicit WorkerPool(int threads) : threads_(threads > 0 ? threads : 1) {}
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  void Post(std::unique_ptr<v8::Task> task);
  void PostDelayed(std::unique_ptr<v8::Task> task, double delay_seconds);
  // Waits at most `timeout_ms` until no task is queued or running (delayed tasks not yet due do not count);
  // true if none is.
  bool Drain(int timeout_ms);
  // Stops handing out tasks and waits at most `timeout_ms` for the running ones to finish. On success the
  // pool stays locked — no thread can post or take a task — until Resume() or, in a forked child,
  // AfterFork(). On timeout the pool runs on and false is returned: a task may be waiting for the main
  // thread, which must return to its event loop before trying again.
  bool Quiesce(int timeout_ms);
  void Resume();
  // In a forked child, after a successful Quiesce(): this pool's threads do not exist here. Returns a new
  // pool that owns the queued and delayed tasks; this one is abandoned (its mutex stays locked). The new pool
  // starts workers only for queued tasks. Its timer thread waits for StartTimer(): the delayed tasks a
  // zygote has (V8's wasm metrics, due in seconds) would otherwise start threads in every child, and a
  // second thread makes each of the child's copy-on-write page faults flush the other CPU's TLB too.
  WorkerPool* AfterFork();
  // Milliseconds until the earliest delayed task is due (0 if due already), or -1 if there is none.
  long long MillisecondsToFirstDelayed();
  // Starts the timer thread (and the workers it hands tasks to) if there are delayed tasks.
  void StartTimer();

 private:
  using Clock = std::chrono::steady_clock;
  void StartLocked();
  void StartTimerLocked();
  void Work();
  void Time();

  const int threads_;
  std::mutex mu_;
  std::unique_lock<std::mutex> quiesced_;  // held between a successful Quiesce() and Resume()
  std::condition_variable work_;   // a task is queued, or the pool was resumed
  std::condition_variable idle_;   // a task finished
  std::condition_variable timer_;  // a delayed task was posted
  std::deque<std::unique_ptr<v8::Task>> queue_;
  std::multimap<Clock::time_point, std::unique_ptr<v8::Task>> delayed_;
  int running_ = 0;
  bool paused_ = false;
  bool started_ = false;
  bool timer_started_ = false;
};

}  // namespace pmpfs
