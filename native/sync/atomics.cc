#include "sync/atomics.h"

#include <memory>

#include "core/addon.h"
#include "core/errors.h"
#include "wait/futex.h"
#include "memory/mapping.h"
#include "wait/waiter.h"

namespace pmp {

namespace {

// The 32-bit word at element `index` of an Int32Array over shared memory. The TypeScript layer has checked
// the index; this re-checks so that no argument can make native code touch memory outside the array.
MappedRange WordAt(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
    throw ArgTypeError(env, "expected an Int32Array");
  }
  Napi::Int32Array view = info[0].As<Napi::Int32Array>();
  const uint32_t index = ArgUint32(info, 1);
  if (index >= view.ElementLength()) throw ArgTypeError(env, "index out of range");
  return MappedRangeOf(env, view.ArrayBuffer(), view.ByteOffset() + index * sizeof(int32_t), sizeof(int32_t));
}

const uint32_t* Word(const MappedRange& range) { return reinterpret_cast<const uint32_t*>(range.address); }

class FutexWaitJob : public WaitJob {
 public:
  FutexWaitJob(MappedRange range, uint32_t expected) : range_(std::move(range)), expected_(expected) {}
  int Run(const Deadline& deadline, const std::atomic<uint32_t>* cancel) override {
    return static_cast<int>(FutexWaitCancellable(Word(range_), expected_, deadline, cancel));
  }

 private:
  MappedRange range_;  // holds the mapping: it stays mapped while this thread sleeps on it
  uint32_t expected_;
};

// futexWait(view, index, expected, timeoutMs) -> WaitStatus
Napi::Value FutexWaitSync(const Napi::CallbackInfo& info) {
  MappedRange range = WordAt(info);
  const uint32_t expected = static_cast<uint32_t>(ArgInt32(info, 2));
  const Deadline deadline = Deadline::FromMs(ArgNumber(info, 3));
  return Napi::Number::New(info.Env(), static_cast<int>(FutexWait(Word(range), expected, deadline)));
}

// futexWaitAsync(view, index, expected, timeoutMs, callback) -> wait id
Napi::Value FutexWaitAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  MappedRange range = WordAt(info);
  const uint32_t expected = static_cast<uint32_t>(ArgInt32(info, 2));
  const Deadline deadline = Deadline::FromMs(ArgNumber(info, 3));
  Napi::Function callback = ArgFunction(info, 4);
  auto job = std::make_unique<FutexWaitJob>(std::move(range), expected);
  return Napi::Number::New(env, GetAddon(env).waiter->Submit(std::move(job), deadline, callback));
}

// futexWake(view, index, count) -> number of waiters woken
Napi::Value FutexWakeJs(const Napi::CallbackInfo& info) {
  MappedRange range = WordAt(info);
  const double count = ArgNumber(info, 2);
  const int n = count >= 0x7fffffff ? 0x7fffffff : static_cast<int>(count);
  return Napi::Number::New(info.Env(), FutexWake(Word(range), n));
}

}  // namespace

void InitAtomics(Napi::Env env, Napi::Object exports) {
  exports.Set("futexWait", Napi::Function::New(env, FutexWaitSync, "futexWait"));
  exports.Set("futexWaitAsync", Napi::Function::New(env, FutexWaitAsync, "futexWaitAsync"));
  exports.Set("futexWake", Napi::Function::New(env, FutexWakeJs, "futexWake"));
}

}  // namespace pmp
