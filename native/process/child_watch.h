// The children of one Node environment (main thread or worker_thread), watched on its event loop: each
// child's pidfd is polled by a uv_poll_t, and when it becomes readable the child is reaped by its own pidfd
// (waitid P_PIDFD) — never waitpid(-1), which would steal child_process's children — and its exit callback
// runs on the JS thread. No exited child stays a zombie, whether or not anyone asks for its status.
#pragma once

#include <napi.h>
#include <sys/types.h>
#include <uv.h>

#include <unordered_map>

#include "core/deadline.h"
#include "process/reap.h"

namespace pmp {

class ChildWatches {
 public:
  // The environment's watch list. It releases itself (closing every handle) when the environment is torn
  // down; children still running then are handed to the spawner thread to be reaped (spawner.h).
  static ChildWatches* Create(Napi::Env env);

  // Watches a child; takes ownership of its pidfd. `on_exit(code, signal, coreDumped)` is called once, on
  // the JS thread, after the child has been reaped: code is the exit status (-1 if killed), signal the
  // signal number that killed it (0 if none). A ref'ed child keeps the event loop alive until it exits.
  void Add(Napi::Env env, pid_t pid, int pidfd, Napi::Function on_exit, bool ref);
  // Watches a child forked by a fork server (lib/process/forkserver.ts): not this process's child, so its
  // status is not reaped but read from its job channel (a copy of `channel` is kept): the child's own exit
  // report, or the fork server's relay after reaping it — four bytes, the exit status, or 256 + N when
  // signal N killed it. A channel that closes with neither (the fork server died too) reports code -1.
  void AddForked(Napi::Env env, pid_t pid, int channel, Napi::Function on_exit, bool ref);
  bool Has(pid_t pid) const { return children_.count(pid) != 0; }
  // Whether this child keeps the event loop alive. False if the child is not (or no longer) watched.
  bool SetRef(pid_t pid, bool ref);
  // Also watches `fd` (a duplicate is kept; the caller keeps its own) for the child's exit report: four bytes,
  // the exit status it is about to _exit() with. The report ends the wait for the child: `on_exit` is called
  // with it at once instead of after the reaping, which follows milliseconds later (the kernel frees a Node
  // process's memory first), silently and without keeping the event loop alive. A child that dies without
  // reporting (a signal, a crash) is reported by its reaping as before. False if the child is not watched,
  // or the report cannot be watched (then only the reaping reports the child).
  bool WatchExitReport(pid_t pid, int fd);
  // Blocks this thread until the child's exit is known (its report, or its reaping) or the deadline passes;
  // when this returns true, the child's callback has been called. The child must be watched (see Has).
  bool WaitSync(Napi::Env env, pid_t pid, const Deadline& deadline);

 private:
  struct Child {
    uv_poll_t poll;  // on pidfd (a forked child: on its job channel)
    uv_poll_t report_poll;  // on report_fd, when it is >= 0
    ChildWatches* owner;
    pid_t pid;
    int pidfd;
    bool forked = false;  // see AddForked
    int report_fd = -1;
    bool report_open = false;  // report_poll is open and polling
    bool reported = false;     // on_exit was called from the report: the reaping only remains
    int open_handles = 0;   // the Child is deleted when its handles are all closed
    Napi::FunctionReference on_exit;
  };
  ChildWatches(napi_env env, uv_loop_t* loop) : env_(env), loop_(loop) {}
  void Watch(Napi::Env env, pid_t pid, int pidfd, Napi::Function on_exit, bool ref, bool forked);
  // A forked child's ReapByPidfd: reads its status from the job channel. True once it is known.
  static bool TakeRelay(int channel, ExitInfo* info);
  // Whether the child has ended (reaped, or its status relayed), without waiting.
  static bool TryEnd(Child* child, ExitInfo* info) {
    return child->forked ? TakeRelay(child->pidfd, info) : ReapByPidfd(child->pidfd, false, info);
  }
  static void OnReadable(uv_poll_t* handle, int status, int events);
  static void OnReport(uv_poll_t* handle, int status, int events);
  // Takes the exit report if it has come, calling on_exit: true once reported. Stops watching a channel that
  // closed without a report.
  bool TakeReport(Child* child, bool from_event_loop);
  void StopReport(Child* child);
  void Deliver(Napi::FunctionReference on_exit, const ExitInfo& info, bool from_event_loop);
  static void OnClosed(uv_handle_t* handle);
  static void OnCleanup(napi_async_cleanup_hook_handle handle, void* self);
  void Close(uv_poll_t* handle);
  void Finish(Child* child, const ExitInfo& info, bool from_event_loop);

  napi_env env_;
  uv_loop_t* loop_;
  std::unordered_map<pid_t, Child*> children_;
  size_t closing_ = 0;  // handles whose uv_close has not completed
  bool torn_down_ = false;
  napi_async_cleanup_hook_handle cleanup_ = nullptr;
};

}  // namespace pmp
