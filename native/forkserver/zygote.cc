// posix_mp_forkserver: the native part of the 'forkserver' start method (lib/process/forkserver.ts and
// zygote.ts). A separate addon from posix_mp because it needs Node internals (node.h: the platform, the
// environment's exit handler), which are tied to one Node ABI; the main addon stays N-API only.
//
// The zygote is an idle Node with posix-mp loaded. It forks each child ahead of its request: that spare
// child sets itself up and waits on a socket of its own; a request hands it its job channel, stdout and
// stderr, and it continues as a prepared interpreter waiting for its job on descriptor 3. The zygote reaps its
// children and relays each exit status to the requester over the child's job channel.
// node.h first: it defines NAPI_VERSION as this Node's (this addon is built per Node ABI anyway).
#include <node.h>
// clang-format off
#include <napi.h>
// clang-format on
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include <climits>
#include <cstdint>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "forkserver/platform_hooks.h"

namespace pmpfs {

namespace {

// Descriptors the zygote keeps for itself are moved at or above this, out of the way of 0-3.
constexpr int kHighFd = 10;
// The job channel's descriptor in a child (CHANNEL_FD in lib/process/prepared.ts).
constexpr int kChannelFd = 3;
// The status relay for a child killed by signal N (an exit status is 0-255); see ChildWatches::AddForked.
constexpr int32_t kSignalled = 256;

node::Environment* CurrentEnvironment() {
  v8::Isolate* isolate = v8::Isolate::GetCurrent();
  return node::GetCurrentEnvironment(isolate->GetCurrentContext());
}

node::MultiIsolatePlatform* CurrentPlatform() {
  node::Environment* environment = CurrentEnvironment();
  return environment == nullptr ? nullptr : node::GetMultiIsolatePlatform(environment);
}

Napi::Error ErrnoError(Napi::Env env, int error, const char* syscall) {
  Napi::Error e = Napi::Error::New(env, std::string(syscall) + ": " + strerror(error));
  e.Set("errno", Napi::Number::New(env, -error));
  e.Set("syscall", Napi::String::New(env, syscall));
  return e;
}

int32_t Arg(const Napi::CallbackInfo& info, size_t i) {
  if (!info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), "binding argument " + std::to_string(i) + " must be a number");
  return info[i].As<Napi::Number>().Int32Value();
}

// ---------------------------------------------------------------------------------------------------------
// The zygote's children: each one's job channel, kept until it is reaped and its status relayed; and the
// spare, forked but not yet given a request (see Fork and Adopt).

std::mutex children_mu;
std::condition_variable children_cv;
std::unordered_map<pid_t, int> children;  // pid -> the zygote's copy of its job channel
pid_t spare_pid = 0;                      // the last spare forked, until adopted
bool spare_reaped = false;                // it died before it was adopted, with spare_status
int spare_status = 0;
int unreaped = 0;  // children forked and not reaped yet
bool reaper_started = false;

void Relay(int channel, int status) {
  const int32_t report = WIFSIGNALED(status) ? kSignalled + WTERMSIG(status) : WEXITSTATUS(status);
  ssize_t n;
  do n = send(channel, &report, sizeof report, MSG_NOSIGNAL | MSG_DONTWAIT);
  while (n < 0 && errno == EINTR);
  close(channel);
}

// Reaps every child of the zygote (it has no others) and relays its status. Its own thread, so that the
// zygote's event loop never waits for it and a child is reaped whatever the loop is doing.
void Reap() {
  for (;;) {
    int status = 0;
    const pid_t pid = waitpid(-1, &status, 0);
    if (pid < 0) {
      if (errno == EINTR) continue;
      std::unique_lock<std::mutex> lock(children_mu);
      children_cv.wait(lock, [] { return unreaped > 0; });
      continue;
    }
    int channel = -1;
    {
      std::lock_guard<std::mutex> lock(children_mu);
      --unreaped;
      auto it = children.find(pid);
      if (it == children.end()) {
        if (pid == spare_pid) {
          spare_reaped = true;
          spare_status = status;
        }
        continue;
      }
      channel = it->second;
      children.erase(it);
    }
    Relay(channel, status);
  }
}

// ---------------------------------------------------------------------------------------------------------
// The control socket, watched on the zygote's event loop.

uv_poll_t control_poll;
int control_fd = -1;
Napi::FunctionReference on_request;
napi_env serving_env = nullptr;

void OnControl(uv_poll_t*, int, int) {
  Napi::Env env(serving_env);
  Napi::HandleScope scope(env);
  try {
    Napi::AsyncContext context(env, "posix-mp:forkserver");
    on_request.MakeCallback(env.Global(), {}, context);
  } catch (const Napi::Error& error) {
    napi_fatal_exception(env, error.Value());
  }
}

// check() -> '' when this Node can run a fork server, else why not.
Napi::Value Check(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), CheckPlatform(CurrentPlatform()));
}

// hook(workerThreads): routes V8's worker tasks to this addon's pool (throws if it cannot). Called as early
// as possible in a zygote: a task that Node's own worker threads still run when the zygote forks could hold
// a lock of V8's that the child would then never see released.
Napi::Value Hook(const Napi::CallbackInfo& info) {
  const std::string problem = HookPlatform(CurrentPlatform(), Arg(info, 0));
  if (!problem.empty()) throw Napi::Error::New(info.Env(), "cannot hook the Node platform: " + problem);
  return info.Env().Undefined();
}

// serve(controlFd, onRequest) -> the control socket's new descriptor. Makes this hooked process a zygote:
// moves the control socket out of the way of descriptors 0-3, calls onRequest() on the event loop whenever
// it is readable, and starts reaping.
Napi::Value Serve(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int fd = Arg(info, 0);
  if (!info[1].IsFunction()) throw Napi::TypeError::New(env, "binding argument 1 must be a function");
  if (control_fd >= 0) throw Napi::Error::New(env, "already serving");
  if (HookedPool() == nullptr) throw Napi::Error::New(env, "the platform is not hooked");
  const int moved = fcntl(fd, F_DUPFD_CLOEXEC, kHighFd);
  if (moved < 0) throw ErrnoError(env, errno, "fcntl");
  // Descriptor 3 stays taken (by /dev/null) rather than free: a child's job channel is placed there, and
  // whatever else a child opens first — libuv's fork handler makes a new signal lock pipe inside fork() —
  // must not get that number and be overwritten.
  const int placeholder = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (placeholder < 0 || dup3(placeholder, fd, O_CLOEXEC) < 0) {
    const int error = errno;
    close(moved);
    throw ErrnoError(env, error, "dup3");
  }
  close(placeholder);
  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env, &loop);
  int rc = uv_poll_init(loop, &control_poll, moved);
  if (rc == 0) rc = uv_poll_start(&control_poll, UV_READABLE, OnControl);
  if (rc != 0) {
    close(moved);
    throw Napi::Error::New(env, std::string("uv_poll_start: ") + uv_strerror(rc));
  }
  control_fd = moved;
  serving_env = env;
  on_request = Napi::Persistent(info[1].As<Napi::Function>());
  if (!reaper_started) {
    reaper_started = true;
    std::thread(Reap).detach();
  }
  return Napi::Number::New(env, moved);
}

// V8 marks its memory MADV_DONTFORK (Node builds it with v8_enable_private_mapping_fork_optimization): a
// child would have none of its heap. Every mapping is made inheritable again before each fork, while V8's
// threads are quiesced, so that none maps memory meanwhile.
//
// The first time, mapping by mapping from /proc/self/maps, which finds those that madvise refuses (EINVAL:
// the kernel's [vvar] and [vdso] pages). Then with one madvise per gap between those: it skips the holes of
// the address space (ENOMEM, harmless) — two calls instead of reading the maps and ~100 calls (~0.2 ms).
std::vector<std::pair<uintptr_t, uintptr_t>> refused;
uintptr_t top = uintptr_t{1} << 47;  // at least the top of a 4-level-paging address space
bool walked = false;

void WalkMaps() {
  FILE* maps = fopen("/proc/self/maps", "re");
  if (maps == nullptr) return;
  refused.clear();
  char line[512];
  while (fgets(line, sizeof line, maps) != nullptr) {
    const size_t length = strlen(line);
    const bool complete = length > 0 && line[length - 1] == '\n';
    unsigned long start, end;
    if (sscanf(line, "%lx-%lx", &start, &end) == 2 && strstr(line, "[vsyscall]") == nullptr) {
      if (madvise(reinterpret_cast<void*>(start), end - start, MADV_DOFORK) != 0 && errno == EINVAL) {
        if (!refused.empty() && refused.back().second == start) {
          refused.back().second = end;
        } else {
          refused.emplace_back(start, end);
        }
      }
      if (end > top) top = end;
    }
    // A long path: skip the rest of that line.
    while (!complete && fgets(line, sizeof line, maps) != nullptr && line[strlen(line) - 1] != '\n') {
    }
  }
  fclose(maps);
  walked = true;
}

bool InheritRange(uintptr_t start, uintptr_t end) {
  if (end <= start) return true;
  return madvise(reinterpret_cast<void*>(start), end - start, MADV_DOFORK) == 0 || errno == ENOMEM;
}

void InheritAllMemory() {
  if (walked) {
    uintptr_t from = 0;
    bool inherited = true;
    for (const auto& range : refused) {
      inherited = InheritRange(from, range.first) && inherited;
      from = range.second;
    }
    if (InheritRange(from, top) && inherited) return;
  }
  // The first time, or something new refused: mapping by mapping.
  WalkMaps();
}

int natural_exit_code = 0;

// In a child: fires when the first delayed V8 task it inherited is due, and starts its pool's timer thread
// then (see WorkerPool::AfterFork). Unreferenced: it never keeps the child alive; if the main thread is busy
// then, the delayed tasks run later, which V8 allows.
uv_timer_t first_delayed_timer;

void OnFirstDelayedDue(uv_timer_t*) { HookedPool()->StartTimer(); }

// Moves fd at or above kHighFd (close-on-exec is irrelevant: it is placed or closed right after).
int Lift(int fd) {
  const int lifted = fcntl(fd, F_DUPFD, kHighFd);
  close(fd);
  return lifted;
}

void Place(int fd, int target) {
  dup2(fd, target);
  close(fd);
}

// The child's side of fork(): it owns nothing of the zygote but its loaded code and heap.
void BecomeChild(Napi::Env env) {
  WorkerPool* pool = HookedPool();
  ReplacePool(pool->AfterFork());
  // First a loop of its own: until then its epoll instance is the zygote's, and stopping a handle would
  // stop it in the zygote.
  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env, &loop);
  if (uv_loop_fork(loop) != 0) _exit(70);
  const long long first_delayed = HookedPool()->MillisecondsToFirstDelayed();
  if (first_delayed >= 0) {
    uv_timer_init(loop, &first_delayed_timer);
    uv_timer_start(&first_delayed_timer, OnFirstDelayedDue, static_cast<uint64_t>(first_delayed), 0);
    uv_unref(reinterpret_cast<uv_handle_t*>(&first_delayed_timer));
  }
  // The zygote's descriptors: the control socket and its other children's channels.
  uv_poll_stop(&control_poll);
  uv_close(reinterpret_cast<uv_handle_t*>(&control_poll), nullptr);
  on_request.Reset();
  for (const auto& child : children) close(child.second);
  children.clear();
  close(control_fd);
  control_fd = -1;
  // Node's own exit would join the platform's worker threads, which do not exist here: leave with _exit(),
  // from process.exit() and from the end of the event loop alike.
  node::SetProcessExitHandler(CurrentEnvironment(), [](node::Environment*, int code) {
    fflush(nullptr);
    _exit(code);
  });
  env.AddCleanupHook([] {
    fflush(nullptr);
    _exit(natural_exit_code);
  });
}

// fork(quiesceMs) -> in the zygote the new spare's pid, or -1 when V8's worker tasks did not pause within
// quiesceMs (try again after a turn of the event loop); 0 in the spare. The spare has nothing of the zygote's
// descriptors but those the caller opened for it; it waits for a request (place) before it is anyone's.
Napi::Value Fork(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int quiesce_ms = Arg(info, 0);
  WorkerPool* pool = HookedPool();
  if (pool == nullptr || control_fd < 0) throw Napi::Error::New(env, "not a zygote");
  if (!pool->Quiesce(quiesce_ms)) return Napi::Number::New(env, -1);
  InheritAllMemory();
  // Held across fork(): the reaper must know the spare before it can reap it.
  std::unique_lock<std::mutex> lock(children_mu);
  const pid_t pid = fork();
  if (pid == 0) {
    lock.release();  // the reaper does not exist here
    BecomeChild(env);
    return Napi::Number::New(env, 0);
  }
  const int error = errno;
  pool->Resume();
  if (pid < 0) throw ErrnoError(env, error, "fork");
  spare_pid = pid;
  spare_reaped = false;
  ++unreaped;
  children_cv.notify_one();
  return Napi::Number::New(env, pid);
}

// adopt(pid, channel) -> false if the spare `pid` is known to have died (fork another); else true: it is to
// serve the request whose job channel is `channel`. Sends the pid to the requester over the channel, and keeps
// the channel to relay the child's exit status — at once if the spare has died meanwhile.
Napi::Value Adopt(const Napi::CallbackInfo& info) {
  const pid_t pid = Arg(info, 0);
  const int channel = Arg(info, 1);
  {
    std::lock_guard<std::mutex> lock(children_mu);
    if (pid == spare_pid && spare_reaped) {
      spare_pid = 0;
      return Napi::Boolean::New(info.Env(), false);
    }
  }
  const int32_t reply = pid;
  ssize_t n;
  do n = send(channel, &reply, sizeof reply, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  bool reaped;
  int status;
  {
    std::lock_guard<std::mutex> lock(children_mu);
    reaped = pid == spare_pid && spare_reaped;
    status = spare_status;
    if (!reaped) children.emplace(pid, channel);
    if (pid == spare_pid) spare_pid = 0;
  }
  if (reaped) Relay(channel, status);
  return Napi::Boolean::New(info.Env(), true);
}

// place(channel, stdout, stderr): in a spare that got its request, makes them descriptors 3, 1 and 2.
Napi::Value PlaceRequest(const Napi::CallbackInfo& info) {
  const int channel = Lift(Arg(info, 0));
  const int out = Lift(Arg(info, 1));
  const int err = Lift(Arg(info, 2));
  Place(channel, kChannelFd);
  Place(out, STDOUT_FILENO);
  Place(err, STDERR_FILENO);
  // The zygote ignores SIGINT (a Ctrl-C for its owner's process group must not kill it); a child does not.
  signal(SIGINT, SIG_DFL);
  return info.Env().Undefined();
}

// setExitCode(code): the status a child leaves with when its event loop ends without process.exit().
Napi::Value SetExitCode(const Napi::CallbackInfo& info) {
  natural_exit_code = Arg(info, 0) & 0xff;
  return info.Env().Undefined();
}

Napi::Value GetPid(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), getpid()); }

Napi::Value GetPpid(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), getppid()); }

// waitReadable(fd, timeoutMs) -> whether fd became readable (or hung up) within timeoutMs. For the
// requester, which waits a bounded time for the zygote's reply.
Napi::Value WaitReadable(const Napi::CallbackInfo& info) {
  pollfd p = {Arg(info, 0), POLLIN, 0};
  const int timeout = Arg(info, 1);
  timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (;;) {
    timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    const long elapsed = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
    const int rc = poll(&p, 1, elapsed >= timeout ? 0 : static_cast<int>(timeout - elapsed));
    if (rc >= 0) return Napi::Boolean::New(info.Env(), rc > 0);
    if (errno != EINTR) throw ErrnoError(info.Env(), errno, "poll");
  }
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  // The Node ABI this was built for: node.h's classes are only valid on that one (checked before check()).
  exports.Set("moduleVersion", Napi::Number::New(env, NODE_MODULE_VERSION));
  exports.Set("check", Napi::Function::New(env, Check, "check"));
  exports.Set("hook", Napi::Function::New(env, Hook, "hook"));
  exports.Set("serve", Napi::Function::New(env, Serve, "serve"));
  exports.Set("fork", Napi::Function::New(env, Fork, "fork"));
  exports.Set("adopt", Napi::Function::New(env, Adopt, "adopt"));
  exports.Set("place", Napi::Function::New(env, PlaceRequest, "place"));
  exports.Set("setExitCode", Napi::Function::New(env, SetExitCode, "setExitCode"));
  exports.Set("getpid", Napi::Function::New(env, GetPid, "getpid"));
  exports.Set("getppid", Napi::Function::New(env, GetPpid, "getppid"));
  exports.Set("waitReadable", Napi::Function::New(env, WaitReadable, "waitReadable"));
  return exports;
}

}  // namespace pmpfs

static Napi::Object InitForkServer(Napi::Env env, Napi::Object exports) { return pmpfs::Init(env, exports); }

NODE_API_MODULE(posix_mp_forkserver, InitForkServer)
