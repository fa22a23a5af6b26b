#include "wait/waiter.h"

#include <chrono>

#include "core/addon.h"
#include "core/background_thread.h"
#include "core/errors.h"

namespace pmp {

namespace {
// Idle threads beyond this many retire after kIdleRetire; the rest stay for the next waits.
constexpr size_t kKeepIdle = 4;
constexpr auto kIdleRetire = std::chrono::seconds(10);
// Waiter threads only block in futex/sem calls: a small stack lets thousands of waits pend cheaply.
constexpr size_t kStackSize = 256 * 1024;
}  // namespace

Waiter::Waiter(Napi::Env env) {
  tsfn_ = Tsfn::New(env, "posix-mp waiter", 0, 1, this);
  // Only pending waits keep the event loop alive (see Submit/Deliver), like a pending timer.
  tsfn_.Unref(env);
}

uint32_t Waiter::Submit(std::unique_ptr<WaitJob> job, const Deadline& deadline, Napi::Function callback) {
  auto wait = std::make_shared<Wait>();
  wait->id = next_id_++;
  if (next_id_ == 0) next_id_ = 1;
  wait->job = std::move(job);
  wait->deadline = deadline;
  active_.emplace(wait->id, Active{wait, Napi::Persistent(callback)});
  if (!referenced_) {
    tsfn_.Ref(callback.Env());
    referenced_ = true;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    queue_.push_back(wait);
    if (queue_.size() > idle_) StartThread();
  }
  work_ready_.notify_one();
  return wait->id;
}

bool Waiter::Cancel(uint32_t id) {
  auto it = active_.find(id);
  if (it == active_.end()) return false;
  Wait* wait = it->second.wait.get();
  if (wait->state.exchange(kAbandoned) == kDone) {
    GiveBackIfTaken(wait);  // finished, result not yet delivered: undo it now
  } else {
    CancelWake(&wait->cancel);  // still waiting: wake it; its thread gives back anything it took
  }
  return true;
}

void Waiter::GiveBackIfTaken(Wait* wait) {
  if (wait->result == static_cast<int>(WaitStatus::kOk) || wait->result == static_cast<int>(WaitStatus::kOwnerDied)) {
    wait->job->GiveBack();
  }
  wait->result = static_cast<int>(WaitStatus::kCancelled);
}

void Waiter::StartThread() {
  // Called with mutex_ held.
  auto entry = [](void* self) -> void* {
    static_cast<Waiter*>(self)->ThreadMain();
    return nullptr;
  };
  if (StartBackgroundThread(entry, this, kStackSize) == 0) ++live_;
  // If pthread_create failed the wait stays queued for the next free thread; with none alive it would never
  // run, so fail loudly rather than hang.
  if (live_ == 0) abort();
}

void Waiter::ThreadMain() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    while (queue_.empty() && !stopping_) {
      ++idle_;
      bool woke = work_ready_.wait_for(lock, kIdleRetire, [this] { return !queue_.empty() || stopping_; });
      --idle_;
      if (!woke && idle_ >= kKeepIdle) goto retire;
    }
    if (stopping_) break;
    {
      std::shared_ptr<Wait> wait = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      wait->result = wait->job->Run(wait->deadline, &wait->cancel);
      if (wait->state.exchange(kDone) == kAbandoned) GiveBackIfTaken(wait.get());
      // The job (and what it holds) lives until the result is delivered or dropped: see CallJs.
      tsfn_.NonBlockingCall(new std::shared_ptr<Wait>(std::move(wait)));
      lock.lock();
    }
  }
retire:
  --live_;
  thread_exited_.notify_all();
}

void Waiter::CallJs(Napi::Env env, Napi::Function, Waiter* waiter, std::shared_ptr<Wait>* wait) {
  if (env != nullptr && waiter != nullptr) {
    waiter->Deliver(*wait);
  } else {
    // The environment is going away and JS will never see this result: whatever the wait took goes back.
    GiveBackIfTaken(wait->get());
  }
  delete wait;
}

void Waiter::Deliver(const std::shared_ptr<Wait>& wait) {
  auto it = active_.find(wait->id);
  if (it == active_.end()) return;
  Napi::FunctionReference callback = std::move(it->second.callback);
  active_.erase(it);
  Napi::Env env = callback.Env();
  if (active_.empty() && referenced_) {
    tsfn_.Unref(env);
    referenced_ = false;
  }
  Napi::HandleScope scope(env);
  try {
    callback.Call({Napi::Number::New(env, wait->result)});
  } catch (const Napi::Error& error) {
    // The callback is the library's own promise settler; should it throw, report it like any uncaught error.
    napi_fatal_exception(env, error.Value());
  }
}

void Waiter::Shutdown() {
  {
    std::unique_lock<std::mutex> lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
    for (auto& entry : active_) CancelWake(&entry.second.wait->cancel);
    work_ready_.notify_all();
    thread_exited_.wait(lock, [this] { return live_ == 0; });
  }
  active_.clear();
  tsfn_.Abort();
}

namespace {
Napi::Value CancelWait(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), GetAddon(info.Env()).waiter->Cancel(ArgUint32(info, 0)));
}
Napi::Value PendingWaits(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(GetAddon(info.Env()).waiter->Pending()));
}
}  // namespace

void InitWaiter(Napi::Env env, Napi::Object exports) {
  exports.Set("cancelWait", Napi::Function::New(env, CancelWait, "cancelWait"));
  exports.Set("pendingWaits", Napi::Function::New(env, PendingWaits, "pendingWaits"));
}

}  // namespace pmp
