#include "sync/semaphore.h"

#include <errno.h>
#include <fcntl.h>
#include <semaphore.h>

#include <memory>

#include "core/addon.h"
#include "core/errors.h"
#include "wait/futex.h"
#include "memory/mapping.h"
#include "core/open_mode.h"
#include "sync/sem_async.h"
#include "wait/waiter.h"

namespace pmp {

namespace {

// The open semaphore, shared by its JS object and any async wait still sleeping on it, so close() during a
// wait never pulls the sem_t out from under a waiter thread.
struct SemHandle {
  sem_t* sem = nullptr;
  bool named = false;
  std::shared_ptr<Mapping> mapping;  // unnamed semaphores: the shared memory that holds the sem_t

  ~SemHandle() {
    if (named) sem_close(sem);
  }
};

class SemWaitJob : public WaitJob {
 public:
  explicit SemWaitJob(std::shared_ptr<SemHandle> handle) : handle_(std::move(handle)) {}
  int Run(const Deadline& deadline, const std::atomic<uint32_t>* cancel) override {
    return SemWaitCancellable(handle_->sem, deadline, cancel);
  }
  void GiveBack() override { sem_post(handle_->sem); }

 private:
  std::shared_ptr<SemHandle> handle_;
};

class Semaphore : public Napi::ObjectWrap<Semaphore> {
 public:
  static Napi::Function Class(Napi::Env env) {
    return DefineClass(env, "NativeSemaphore",
                       {
                           StaticMethod<&Semaphore::Open>("open"),
                           StaticMethod<&Semaphore::InMemory>("inMemory"),
                           StaticMethod<&Semaphore::Unlink>("unlink"),
                           InstanceMethod<&Semaphore::Post>("post"),
                           InstanceMethod<&Semaphore::TryWait>("tryWait"),
                           InstanceMethod<&Semaphore::GetValue>("getValue"),
                           InstanceMethod<&Semaphore::WaitSync>("waitSync"),
                           InstanceMethod<&Semaphore::WaitAsync>("waitAsync"),
                           InstanceMethod<&Semaphore::Counter>("counter"),
                           InstanceMethod<&Semaphore::Wake>("wake"),
                           InstanceMethod<&Semaphore::Close>("close"),
                       });
  }

  explicit Semaphore(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Semaphore>(info) {}

 private:
  static Semaphore* NewInstance(Napi::Env env, std::shared_ptr<SemHandle> handle, Napi::Object* object) {
    *object = GetAddon(env).semaphore_class.New({});
    Semaphore* self = Unwrap(*object);
    self->handle_ = std::move(handle);
    return self;
  }

  // open(name, openMode, permissions, initialValue) -> { semaphore, created }
  static Napi::Value Open(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const std::string name = ArgString(info, 0);
    const OpenMode mode = ArgOpenMode(info, 1);
    const mode_t permissions = static_cast<mode_t>(ArgUint32(info, 2));
    const unsigned value = ArgUint32(info, 3);
    sem_t* sem = SEM_FAILED;
    bool created = false;
    int rc = OpenOrCreate(mode, &created, [&](int flags) {
      sem = sem_open(name.c_str(), flags, permissions, value);
      return sem == SEM_FAILED ? -1 : 0;
    });
    if (rc != 0) throw SystemError(env, errno, "sem_open", name);
    auto handle = std::make_shared<SemHandle>();
    handle->sem = sem;
    handle->named = true;
    Napi::Object object;
    NewInstance(env, std::move(handle), &object);
    Napi::Object result = Napi::Object::New(env);
    result.Set("semaphore", object);
    result.Set("created", created);
    return result;
  }

  // inMemory(arrayBuffer, byteOffset, initialValue) -> semaphore over the sem_t at that offset of a shared
  // mapping. initialValue >= 0 initialises it (sem_init, process-shared); -1 uses the one already there.
  static Napi::Value InMemory(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    MappedRange range = MappedRangeOf(env, info[0], ArgUint32(info, 1), sizeof(sem_t));
    if (reinterpret_cast<uintptr_t>(range.address) % alignof(sem_t) != 0) {
      throw ArgTypeError(env, "misaligned semaphore offset");
    }
    const double initial = ArgNumber(info, 2);
    auto* sem = reinterpret_cast<sem_t*>(range.address);
    if (initial >= 0 && sem_init(sem, 1, static_cast<unsigned>(initial)) != 0) {
      throw SystemError(env, errno, "sem_init");
    }
    auto handle = std::make_shared<SemHandle>();
    handle->sem = sem;
    handle->mapping = std::move(range.mapping);
    Napi::Object object;
    NewInstance(env, std::move(handle), &object);
    return object;
  }

  static Napi::Value Unlink(const Napi::CallbackInfo& info) {
    const std::string name = ArgString(info, 0);
    if (sem_unlink(name.c_str()) != 0) throw SystemError(info.Env(), errno, "sem_unlink", name);
    return info.Env().Undefined();
  }

  sem_t* Sem(Napi::Env env) {
    if (!handle_) {
      Napi::Error error = Napi::Error::New(env, "the semaphore is closed");
      error.Set("code", Napi::String::New(env, "ERR_MP_CLOSED"));
      throw error;
    }
    return handle_->sem;
  }

  // post(n): n sem_posts. EOVERFLOW (SEM_VALUE_MAX reached) stops early and throws.
  Napi::Value Post(const Napi::CallbackInfo& info) {
    sem_t* sem = Sem(info.Env());
    const uint32_t count = info.Length() > 0 ? ArgUint32(info, 0) : 1;
    for (uint32_t i = 0; i < count; ++i) {
      if (sem_post(sem) != 0) throw SystemError(info.Env(), errno, "sem_post");
    }
    return info.Env().Undefined();
  }

  Napi::Value TryWait(const Napi::CallbackInfo& info) {
    sem_t* sem = Sem(info.Env());
    int rc;
    do rc = sem_trywait(sem); while (rc != 0 && errno == EINTR);
    if (rc != 0 && errno != EAGAIN) throw SystemError(info.Env(), errno, "sem_trywait");
    return Napi::Boolean::New(info.Env(), rc == 0);
  }

  Napi::Value GetValue(const Napi::CallbackInfo& info) {
    int value = 0;
    if (sem_getvalue(Sem(info.Env()), &value) != 0) throw SystemError(info.Env(), errno, "sem_getvalue");
    return Napi::Number::New(info.Env(), value);
  }

  // waitSync(timeoutMs) -> acquired. timeoutMs < 0 waits forever; 0 only tries.
  Napi::Value WaitSync(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    sem_t* sem = Sem(env);
    const double timeout = ArgNumber(info, 0);
    if (timeout == 0) return TryWait(info);
    const Deadline deadline = Deadline::FromMs(timeout);
    int rc;
    do {
      rc = deadline.infinite ? sem_wait(sem) : sem_clockwait(sem, CLOCK_MONOTONIC, &deadline.at);
    } while (rc != 0 && errno == EINTR);
    if (rc != 0 && errno != ETIMEDOUT) throw SystemError(env, errno, "sem_clockwait");
    return Napi::Boolean::New(env, rc == 0);
  }

  // waitAsync(timeoutMs, callback) -> wait id; callback(status) on the JS thread.
  Napi::Value WaitAsync(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Sem(env);
    const Deadline deadline = Deadline::FromMs(ArgNumber(info, 0));
    Napi::Function callback = ArgFunction(info, 1);
    uint32_t id = GetAddon(env).waiter->Submit(std::make_unique<SemWaitJob>(handle_), deadline, callback);
    return Napi::Number::New(env, id);
  }

  // counter() -> ArrayBuffer over a named semaphore's value and sleeper-count words (in sem_open's
  // mapping), or undefined when this libc's layout is not glibc's. lib/sync/semaphore.ts posts and try-waits
  // through it with Atomics, as glibc does, because a call through a wrapped native object costs several
  // times the semaphore operation itself. close() detaches it before sem_close unmaps the words.
  Napi::Value Counter(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    sem_t* sem = Sem(env);
    if (!SemLayoutIsGlibc() || !handle_->named) return env.Undefined();
    if (counter_.IsEmpty()) {
      void* words = const_cast<uint32_t*>(SemValueWord(sem));
      counter_ = Napi::Persistent(Napi::ArrayBuffer::New(env, words, kSemCounterBytes, [](Napi::Env, void*) {}));
    }
    return counter_.Value();
  }

  // wake(n): wakes up to n sleepers after lib/sync/semaphore.ts raised the value through counter().
  Napi::Value Wake(const Napi::CallbackInfo& info) {
    FutexWake(SemValueWord(Sem(info.Env())), static_cast<int>(ArgUint32(info, 0)));
    return info.Env().Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (!counter_.IsEmpty()) {
      counter_.Value().Detach();
      counter_.Reset();
    }
    handle_.reset();
    return info.Env().Undefined();
  }

  std::shared_ptr<SemHandle> handle_;
  Napi::Reference<Napi::ArrayBuffer> counter_;
};

}  // namespace

void InitSemaphore(Napi::Env env, Napi::Object exports) {
  Napi::Function cls = Semaphore::Class(env);
  GetAddon(env).semaphore_class = Napi::Persistent(cls);
  exports.Set("Semaphore", cls);
  exports.Set("semLayoutIsGlibc", Napi::Boolean::New(env, SemLayoutIsGlibc()));
}

}  // namespace pmp
