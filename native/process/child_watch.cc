#include "process/child_watch.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/errors.h"
#include "process/spawner.h"

namespace pmp {

ChildWatches* ChildWatches::Create(Napi::Env env) {
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) throw Napi::Error::New(env, "no event loop");
  auto* self = new ChildWatches(env, loop);
  // An async cleanup hook, because closing uv handles takes a loop iteration: Node keeps running the loop
  // until every such hook has removed itself, and only then closes it (a worker_thread's loop must have
  // no open handle left).
  if (napi_add_async_cleanup_hook(env, OnCleanup, self, &self->cleanup_) != napi_ok) {
    delete self;
    throw Napi::Error::New(env, "napi_add_async_cleanup_hook failed");
  }
  return self;
}

void ChildWatches::AddForked(Napi::Env env, pid_t pid, int channel, Napi::Function on_exit, bool ref) {
  const int copy = fcntl(channel, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) throw SystemError(env, errno, "fcntl");
  Watch(env, pid, copy, on_exit, ref, true);
}

void ChildWatches::Add(Napi::Env env, pid_t pid, int pidfd, Napi::Function on_exit, bool ref) {
  Watch(env, pid, pidfd, on_exit, ref, false);
}

void ChildWatches::Watch(Napi::Env env, pid_t pid, int pidfd, Napi::Function on_exit, bool ref, bool forked) {
  auto* child = new Child();
  child->owner = this;
  child->forked = forked;
  child->pid = pid;
  child->pidfd = pidfd;
  int rc = uv_poll_init(loop_, &child->poll, pidfd);
  if (rc == 0) {
    child->poll.data = child;
    child->open_handles = 1;
    rc = uv_poll_start(&child->poll, UV_READABLE, OnReadable);
    if (rc != 0) {
      child->pidfd = -1;
      Close(&child->poll);
    }
  } else {
    delete child;
  }
  if (rc != 0) {
    // Unwatchable: the spawn fails as a whole. The child must not run on unobserved, nor stay a zombie.
    kill(pid, SIGKILL);
    if (forked) {
      close(pidfd);
    } else {
      AdoptOrphan(pidfd);
    }
    throw SystemError(env, -rc, "uv_poll_start");
  }
  child->on_exit = Napi::Persistent(on_exit);
  if (!ref) uv_unref(reinterpret_cast<uv_handle_t*>(&child->poll));
  children_.emplace(pid, child);
}

bool ChildWatches::SetRef(pid_t pid, bool ref) {
  auto it = children_.find(pid);
  if (it == children_.end()) return false;
  auto* handle = reinterpret_cast<uv_handle_t*>(&it->second->poll);
  // Once reported, the child's reaping never keeps the loop alive.
  if (ref && !it->second->reported) {
    uv_ref(handle);
  } else {
    uv_unref(handle);
  }
  return true;
}

bool ChildWatches::WatchExitReport(pid_t pid, int fd) {
  auto it = children_.find(pid);
  // A forked child's channel is watched already.
  if (it == children_.end() || it->second->forked || it->second->reported || it->second->report_fd >= 0) return false;
  Child* child = it->second;
  // Any failure here only costs the wait for the reaping: the report is an optimisation, not a channel the
  // child's status depends on.
  const int copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) return false;
  if (uv_poll_init(loop_, &child->report_poll, copy) != 0) {
    close(copy);
    return false;
  }
  child->report_poll.data = child;
  child->report_fd = copy;
  child->report_open = true;
  child->open_handles++;
  // The pidfd's handle alone decides whether the child keeps the loop alive.
  uv_unref(reinterpret_cast<uv_handle_t*>(&child->report_poll));
  if (uv_poll_start(&child->report_poll, UV_READABLE, OnReport) != 0) {
    StopReport(child);
    return false;
  }
  return true;
}

bool ChildWatches::TakeRelay(int channel, ExitInfo* info) {
  int32_t report = 0;
  ssize_t n;
  // ECONNRESET once: the child died with its job unread, and the fork server closed its end after the relay;
  // the error is reported (and cleared) before the relay queued behind it.
  bool reset = false;
  do n = recv(channel, &report, sizeof report, MSG_DONTWAIT);
  while (n < 0 && (errno == EINTR || (errno == ECONNRESET && !reset && (reset = true))));
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return false;
  // EOF or an error: the status is lost (code -1, no signal), as when someone else reaped a child.
  if (n != static_cast<ssize_t>(sizeof report)) return true;
  if (report >= 256) {
    info->signal = report - 256;
  } else {
    info->code = report & 0xff;
  }
  return true;
}

bool ChildWatches::TakeReport(Child* child, bool from_event_loop) {
  int32_t code = 0;
  ssize_t n;
  do n = recv(child->report_fd, &code, sizeof code, MSG_DONTWAIT);
  while (n < 0 && errno == EINTR);
  if (n != static_cast<ssize_t>(sizeof code)) {
    // EOF (the child exited without a report), an error, or a malformed report: only the reaping is left.
    if (!(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))) StopReport(child);
    return false;
  }
  ExitInfo info;
  info.code = code & 0xff;  // what the kernel will report for _exit(code)
  child->reported = true;
  StopReport(child);
  uv_unref(reinterpret_cast<uv_handle_t*>(&child->poll));
  Deliver(std::move(child->on_exit), info, from_event_loop);
  return true;
}

void ChildWatches::OnReport(uv_poll_t* handle, int status, int) {
  Child* child = static_cast<Child*>(handle->data);
  ChildWatches* self = child->owner;
  if (!self->TakeReport(child, true) && status < 0) self->StopReport(child);
}

void ChildWatches::StopReport(Child* child) {
  if (!child->report_open) return;
  child->report_open = false;
  uv_poll_stop(&child->report_poll);
  Close(&child->report_poll);
}

void ChildWatches::OnReadable(uv_poll_t* handle, int status, int) {
  Child* child = static_cast<Child*>(handle->data);
  ExitInfo info;
  if (child->owner->TryEnd(child, &info)) {
    child->owner->Finish(child, info, true);
  } else if (status < 0) {
    // libuv stops a handle that reported an error; the child still runs, so keep watching.
    uv_poll_start(handle, UV_READABLE, OnReadable);
  }
}

bool ChildWatches::WaitSync(Napi::Env env, pid_t pid, const Deadline& deadline) {
  Child* child = children_.at(pid);
  if (child->reported) return true;
  for (;;) {
    // poll() ignores a negative descriptor: the report's entry counts only while it is watched.
    pollfd p[2] = {{child->pidfd, POLLIN, 0}, {child->report_open ? child->report_fd : -1, POLLIN, 0}};
    if (poll(p, 2, deadline.RemainingMs()) < 0 && errno != EINTR) throw SystemError(env, errno, "poll");
    ExitInfo info;
    if (TryEnd(child, &info)) {
      Finish(child, info, false);
      return true;
    }
    if (child->report_open && TakeReport(child, false)) return true;
    if (deadline.Passed()) return false;
  }
}

void ChildWatches::Close(uv_poll_t* handle) {
  ++closing_;
  uv_close(reinterpret_cast<uv_handle_t*>(handle), OnClosed);
}

void ChildWatches::OnClosed(uv_handle_t* handle) {
  Child* child = static_cast<Child*>(handle->data);
  ChildWatches* self = child->owner;
  // A descriptor outlives its poll handle: closing it earlier could let a new descriptor with the same
  // number be confused with it by the loop.
  if (handle == reinterpret_cast<uv_handle_t*>(&child->report_poll)) {
    close(child->report_fd);
    child->report_fd = -1;
  } else if (child->pidfd >= 0) {
    close(child->pidfd);
    child->pidfd = -1;
  }
  if (--child->open_handles == 0) delete child;
  if (--self->closing_ == 0 && self->torn_down_) {
    napi_remove_async_cleanup_hook(self->cleanup_);
    delete self;
  }
}

void ChildWatches::Finish(Child* child, const ExitInfo& info, bool from_event_loop) {
  Napi::FunctionReference on_exit = std::move(child->on_exit);
  const bool reported = child->reported;
  children_.erase(child->pid);
  StopReport(child);
  Close(&child->poll);
  // A reported child's callback has run already: its reaping only frees the zombie.
  if (!reported) Deliver(std::move(on_exit), info, from_event_loop);
}

void ChildWatches::Deliver(Napi::FunctionReference on_exit, const ExitInfo& info, bool from_event_loop) {
  Napi::Env env(env_);
  Napi::HandleScope scope(env);
  const std::initializer_list<napi_value> args = {Napi::Number::New(env, info.code),
                                                  Napi::Number::New(env, info.signal),
                                                  Napi::Boolean::New(env, info.core_dumped)};
  if (!from_event_loop) {
    // Inside a JS call (waitpidSync, joinSync): an exception propagates to that caller.
    on_exit.Call(args);
    return;
  }
  try {
    // From the event loop: MakeCallback, so that the promise reactions it triggers run right after it.
    Napi::AsyncContext context(env, "posix-mp:child-exit");
    on_exit.MakeCallback(env.Global(), args, context);
  } catch (const Napi::Error& error) {
    napi_fatal_exception(env, error.Value());
  }
}

void ChildWatches::OnCleanup(napi_async_cleanup_hook_handle, void* arg) {
  auto* self = static_cast<ChildWatches*>(arg);
  self->torn_down_ = true;
  for (auto& entry : self->children_) {
    Child* child = entry.second;
    child->on_exit.Reset();
    // Stop polling first (libuv drops the descriptor from epoll at once), then give the pidfd away.
    uv_poll_stop(&child->poll);
    // A forked child is not ours to reap: its channel is closed with its handle.
    if (!child->forked) {
      AdoptOrphan(child->pidfd);
      child->pidfd = -1;
    }
    self->StopReport(child);
    self->Close(&child->poll);
  }
  self->children_.clear();
  if (self->closing_ == 0) {
    napi_remove_async_cleanup_hook(self->cleanup_);
    delete self;
  }
}

}  // namespace pmp
