#include "comm/fd_watch.h"

#include <uv.h>

#include "core/errors.h"

namespace pmp {

namespace {

// new FdWatcher(fd, callback(status, events)): `start(events)` watches for UV_READABLE (1) and/or
// UV_WRITABLE (2) — level-triggered, so the callback keeps coming while the condition holds and the watcher
// is started; `start(0)` stops; `close()` lets the descriptor go (the caller closes it afterwards). A started
// watcher keeps the event loop alive, as a socket with a pending read does. The descriptor is never closed
// here.
class FdWatcher : public Napi::ObjectWrap<FdWatcher> {
 public:
  static Napi::Function Class(Napi::Env env) {
    return DefineClass(env, "FdWatcher",
                       {
                           InstanceMethod<&FdWatcher::Start>("start"),
                           InstanceMethod<&FdWatcher::Close>("close"),
                       });
  }

  explicit FdWatcher(const Napi::CallbackInfo& info) : Napi::ObjectWrap<FdWatcher>(info) {
    Napi::Env env = info.Env();
    const int fd = ArgInt32(info, 0);
    callback_ = Napi::Persistent(ArgFunction(info, 1));
    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok) throw Napi::Error::New(env, "no event loop");
    handle_ = new Handle{{}, this, nullptr};
    const int rc = uv_poll_init(loop, &handle_->poll, fd);
    if (rc != 0) {
      delete handle_;
      handle_ = nullptr;
      throw SystemError(env, -rc, "uv_poll_init");
    }
    // The environment may be torn down (a worker_thread ending) with this handle open: close it then.
    napi_add_async_cleanup_hook(env, OnCleanup, handle_, &handle_->cleanup);
    context_ = std::make_unique<Napi::AsyncContext>(env, "posix-mp:fd-watch");
  }

  ~FdWatcher() override { Release(); }

 private:
  struct Handle {
    uv_poll_t poll;
    FdWatcher* owner;  // null once the JS object let go of it
    napi_async_cleanup_hook_handle cleanup;
  };

  Napi::Value Start(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const int32_t events = ArgInt32(info, 0) & (UV_READABLE | UV_WRITABLE);
    if (handle_ == nullptr) throw Napi::Error::New(env, "FdWatcher is closed");
    const int rc = events == 0 ? uv_poll_stop(&handle_->poll) : uv_poll_start(&handle_->poll, events, OnEvent);
    if (rc != 0) throw SystemError(env, -rc, "uv_poll_start");
    return env.Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Release();
    return info.Env().Undefined();
  }

  // Stops polling at once (libuv drops the descriptor from epoll, so the caller may close it right after)
  // and closes the handle, which frees itself.
  void Release() {
    if (handle_ == nullptr) return;
    Handle* handle = handle_;
    handle_ = nullptr;
    handle->owner = nullptr;
    CloseHandle(handle);
  }

  static void CloseHandle(Handle* handle) {
    uv_poll_stop(&handle->poll);
    uv_close(reinterpret_cast<uv_handle_t*>(&handle->poll), [](uv_handle_t* h) {
      Handle* closed = reinterpret_cast<Handle*>(h);
      napi_remove_async_cleanup_hook(closed->cleanup);
      delete closed;
    });
  }

  static void OnCleanup(napi_async_cleanup_hook_handle, void* arg) {
    Handle* handle = static_cast<Handle*>(arg);
    if (handle->owner != nullptr) {
      handle->owner->handle_ = nullptr;
      handle->owner = nullptr;
      CloseHandle(handle);
    }
  }

  static void OnEvent(uv_poll_t* poll, int status, int events) {
    FdWatcher* self = reinterpret_cast<Handle*>(poll)->owner;
    if (self == nullptr) return;
    napi_env env = self->Env();
    Napi::HandleScope scope(self->Env());
    // Raw N-API, not node-addon-api's exceptions: while a worker_thread is being terminated, JS cannot run,
    // the call fails, and making an Error object for it would fail too (a fatal error).
    napi_value argv[2];
    napi_value global;
    napi_value result;
    if (napi_create_int32(env, status, &argv[0]) != napi_ok || napi_create_int32(env, events, &argv[1]) != napi_ok ||
        napi_get_global(env, &global) != napi_ok) {
      return;
    }
    // MakeCallback: the promise reactions the callback triggers run right after it.
    if (napi_make_callback(env, *self->context_, global, self->callback_.Value(), 2, argv, &result) == napi_ok) return;
    napi_value error;
    if (napi_get_and_clear_last_exception(env, &error) == napi_ok) napi_fatal_exception(env, error);
  }

  Handle* handle_ = nullptr;
  Napi::FunctionReference callback_;
  std::unique_ptr<Napi::AsyncContext> context_;
};

}  // namespace

void InitFdWatch(Napi::Env env, Napi::Object exports) {
  exports.Set("FdWatcher", FdWatcher::Class(env));
}

}  // namespace pmp
