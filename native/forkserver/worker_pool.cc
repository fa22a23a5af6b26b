#include "forkserver/worker_pool.h"

#include <thread>

namespace pmpfs {

void WorkerPool::StartLocked() {
  if (started_) return;
  started_ = true;
  for (int i = 0; i < threads_; ++i) std::thread([this] { Work(); }).detach();
}

void WorkerPool::StartTimerLocked() {
  if (timer_started_) return;
  timer_started_ = true;
  std::thread([this] { Time(); }).detach();
}

void WorkerPool::Post(std::unique_ptr<v8::Task> task) {
  std::lock_guard<std::mutex> lock(mu_);
  StartLocked();
  queue_.push_back(std::move(task));
  work_.notify_one();
}

void WorkerPool::PostDelayed(std::unique_ptr<v8::Task> task, double delay_seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  StartLocked();
  StartTimerLocked();
  const auto due = Clock::now() + std::chrono::microseconds(static_cast<long long>(delay_seconds * 1e6));
  delayed_.emplace(due, std::move(task));
  timer_.notify_one();
}

void WorkerPool::Work() {
  for (;;) {
    std::unique_ptr<v8::Task> task;
    {
      std::unique_lock<std::mutex> lock(mu_);
      work_.wait(lock, [this] { return !paused_ && !queue_.empty(); });
      task = std::move(queue_.front());
      queue_.pop_front();
      ++running_;
    }
    task->Run();
    task.reset();
    std::lock_guard<std::mutex> lock(mu_);
    --running_;
    idle_.notify_all();
  }
}

void WorkerPool::Time() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    if (delayed_.empty()) {
      timer_.wait(lock);
      continue;
    }
    auto first = delayed_.begin();
    if (first->first > Clock::now()) {
      timer_.wait_until(lock, first->first);
      continue;
    }
    queue_.push_back(std::move(first->second));
    delayed_.erase(first);
    work_.notify_one();
  }
}

bool WorkerPool::Drain(int timeout_ms) {
  std::unique_lock<std::mutex> lock(mu_);
  return idle_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [this] { return queue_.empty() && running_ == 0; });
}

bool WorkerPool::Quiesce(int timeout_ms) {
  std::unique_lock<std::mutex> lock(mu_);
  paused_ = true;
  if (!idle_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [this] { return running_ == 0; })) {
    paused_ = false;
    work_.notify_all();
    return false;
  }
  quiesced_ = std::move(lock);
  return true;
}

void WorkerPool::Resume() {
  paused_ = false;
  work_.notify_all();
  quiesced_.unlock();
}

WorkerPool* WorkerPool::AfterFork() {
  auto* pool = new WorkerPool(threads_);
  pool->queue_ = std::move(queue_);
  pool->delayed_ = std::move(delayed_);
  if (!pool->queue_.empty()) pool->StartLocked();
  quiesced_.release();
  return pool;
}

long long WorkerPool::MillisecondsToFirstDelayed() {
  std::lock_guard<std::mutex> lock(mu_);
  if (delayed_.empty()) return -1;
  const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(delayed_.begin()->first - Clock::now());
  return wait.count() > 0 ? wait.count() : 0;
}

void WorkerPool::StartTimer() {
  std::lock_guard<std::mutex> lock(mu_);
  if (delayed_.empty()) return;
  StartLocked();
  StartTimerLocked();
}

}  // namespace pmpfs
