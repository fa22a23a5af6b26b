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
#include <cstring>
#include <deque>
#include <cstdint>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "comm/rights_message.h"
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
// spares, forked but not yet given a request (see ForkSpare and HandOver).

std::mutex children_mu;
std::condition_variable children_cv;
std::unordered_map<pid_t, int> children;   // pid -> the zygote's copy of its job channel
std::unordered_set<pid_t> spare_pids;      // the spares not given a request yet
std::unordered_map<pid_t, int> dead_spares;  // those of them that died already (killed from outside): status
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
        if (spare_pids.count(pid) != 0) dead_spares.emplace(pid, status);
        continue;
      }
      channel = it->second;
      children.erase(it);
    }
    Relay(channel, status);
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

// ---------------------------------------------------------------------------------------------------------
// Serving. Each request is served by a child forked ahead of it (a spare): the request hands the spare its
// descriptors, and new spares are forked once no request waits, so that neither the fork nor the spare's
// set-up delays a start. kSpares are kept: a burst of starts then begins with that many forks already made
// (while the machine was idle, as a rule), ~1 ms of CPU each.
// This runs in C++, not in JS, because of what fork() does to the zygote itself: after each fork it shares
// every page with the spare, so each page it writes next is copied first. Serving a request in JS wrote ~50
// pages of V8's heap (~0.25 ms of each start); this touches a few.

// A request's descriptors: the job channel, stdout and stderr.
struct Request {
  int channel;
  int out;
  int err;
};

uv_poll_t control_poll;
int control_fd = -1;
napi_env serving_env = nullptr;
// In a spare, called with its socket to the zygote: it sets itself up and waits there for its request.
Napi::FunctionReference on_spare;
int quiesce_ms = 0;
std::deque<Request> requests;
// A spare waiting for a request: its pid and the zygote's end of its socket.
struct Spare {
  pid_t pid;
  int socket;
};
constexpr size_t kSpares = 2;
std::deque<Spare> spares;  // oldest first
// A fork is retried a loop turn later while V8's worker tasks do not pause (one may wait for the main thread,
// which must run its loop); after kMaxTries the request is refused and its requester starts it with 'spawn'.
constexpr int kMaxTries = 100;
int busy_tries = 0;
uv_timer_t retry_timer;
uv_idle_t refill_idle;  // forks spares, one per turn of the loop, while no request waits

void CloseRequest(const Request& request) {
  close(request.channel);
  close(request.out);
  close(request.err);
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
  // The zygote's handles and descriptors: the control socket, the requests queued there, its other
  // children's channels.
  for (uv_handle_t* handle : {reinterpret_cast<uv_handle_t*>(&control_poll), reinterpret_cast<uv_handle_t*>(&retry_timer),
                              reinterpret_cast<uv_handle_t*>(&refill_idle)}) {
    uv_close(handle, nullptr);
  }
  close(control_fd);
  control_fd = -1;
  for (const Request& request : requests) CloseRequest(request);
  requests.clear();
  for (const Spare& spare : spares) close(spare.socket);
  spares.clear();
  for (const auto& child : children) close(child.second);
  children.clear();
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

// What a fork attempt gave: a new spare, the spare itself (in the child), V8's worker tasks busy (try again a
// loop turn later), or a failed fork (out of processes or memory).
enum class Forked { kForked, kInSpare, kBusy, kFailed };

// A child inherits the zygote's young generation. Had the zygote left objects there — in particular
// ArrayBuffers over large memory (posix-mp's mappings) — V8 would count their bytes against the young
// generation in every child, and each child's first allocation of a backing store would start a scavenge:
// twice the CPU and page faults of a start. So before its first fork the zygote runs a full GC, which moves
// every survivor to the old generation; afterwards it allocates next to nothing, but should its new space
// fill up again it is emptied the same way.
void CollectYoungGeneration() {
  v8::Isolate* isolate = v8::Isolate::GetCurrent();
  static bool first = true;
  static size_t new_space = SIZE_MAX;
  if (new_space == SIZE_MAX) {
    for (size_t i = 0; i < isolate->NumberOfHeapSpaces(); ++i) {
      v8::HeapSpaceStatistics statistics;
      if (isolate->GetHeapSpaceStatistics(&statistics, i) && strcmp(statistics.space_name(), "new_space") == 0) new_space = i;
    }
  }
  v8::HeapSpaceStatistics statistics;
  const bool filling = new_space != SIZE_MAX && isolate->GetHeapSpaceStatistics(&statistics, new_space) &&
                       statistics.space_used_size() * 4 > statistics.space_size();
  if (!first && !filling) return;
  first = false;
  // The only API for a chosen GC wants --expose-gc; it is set for the call only (a context created meanwhile
  // would get a global gc()).
  v8::V8::SetFlagsFromString("--expose-gc");
  isolate->RequestGarbageCollectionForTesting(v8::Isolate::kFullGarbageCollection);
  v8::V8::SetFlagsFromString("--no-expose-gc");
}

// Forks a spare. In the spare, runs on_spare (which returns once the spare has its request and is on its
// way to being a Process) and gives kInSpare: the caller returns at once.
Forked ForkSpare(Napi::Env env) {
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) return Forked::kFailed;
  CollectYoungGeneration();
  WorkerPool* pool = HookedPool();
  if (!pool->Quiesce(quiesce_ms)) {
    close(pair[0]);
    close(pair[1]);
    return Forked::kBusy;
  }
  InheritAllMemory();
  // Held across fork(): the reaper must know the spare before it can reap it.
  std::unique_lock<std::mutex> lock(children_mu);
  const pid_t pid = fork();
  if (pid == 0) {
    lock.release();  // the reaper does not exist here
    close(pair[0]);
    BecomeChild(env);
    try {
      Napi::AsyncContext context(env, "posix-mp:forkserver");
      on_spare.MakeCallback(env.Global(), {Napi::Number::New(env, pair[1])}, context);
    } catch (const Napi::Error& error) {
      // Thrown while the spare set itself up: an uncaught exception of this child, as in any Node program.
      napi_fatal_exception(env, error.Value());
    }
    return Forked::kInSpare;
  }
  pool->Resume();
  close(pair[1]);
  if (pid < 0) {
    close(pair[0]);
    return Forked::kFailed;
  }
  spares.push_back({pid, pair[0]});
  spare_pids.insert(pid);
  ++unreaped;
  children_cv.notify_one();
  return Forked::kForked;
}

// Gives `request` to `spare`; false if the spare is known to have died (killed from outside): take another.
// Its pid goes to the requester first, before anything the child could send there; the zygote keeps the
// channel until it relays the exit status — which is all the requester learns of a spare that died in the
// moment between.
bool HandOver(const Request& request, const Spare& spare) {
  const pid_t pid = spare.pid;
  const int socket = spare.socket;
  {
    std::lock_guard<std::mutex> lock(children_mu);
    if (dead_spares.erase(pid) != 0) {
      spare_pids.erase(pid);
      close(socket);
      return false;
    }
  }
  const int32_t reply = pid;
  ssize_t n;
  do n = send(request.channel, &reply, sizeof reply, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  bool reaped;
  int status = 0;
  {
    std::lock_guard<std::mutex> lock(children_mu);
    auto dead = dead_spares.find(pid);
    reaped = dead != dead_spares.end();
    if (reaped) {
      status = dead->second;
      dead_spares.erase(dead);
    } else {
      children.emplace(pid, request.channel);
    }
    spare_pids.erase(pid);
  }
  if (reaped) {
    Relay(request.channel, status);
  } else {
    // If the spare has died meanwhile, this fails, and its status is relayed when it is reaped.
    char hand_over = 1;
    pmp::RightsMessage(&hand_over, 1).Send(socket, {request.channel, request.out, request.err}, MSG_NOSIGNAL);
  }
  close(socket);
  close(request.out);
  close(request.err);
  return true;
}

void OnRetry(uv_timer_t*);

void OnRefill(uv_idle_t* idle);

// Serves the queued requests in order; then spares are forked on the following turns of the loop.
void ServeRequests(Napi::Env env) {
  while (!requests.empty()) {
    if (spares.empty()) {
      const Forked forked = ForkSpare(env);
      if (forked == Forked::kInSpare) return;
      if (forked == Forked::kForked) continue;
      if (forked == Forked::kBusy && ++busy_tries < kMaxTries) {
        uv_timer_start(&retry_timer, OnRetry, 1, 0);
        return;
      }
      // Refused: closing the channel tells the requester (it starts the process with 'spawn').
      CloseRequest(requests.front());
      requests.pop_front();
      busy_tries = 0;
      continue;
    }
    const Spare spare = spares.front();
    spares.pop_front();
    if (HandOver(requests.front(), spare)) {
      requests.pop_front();
      busy_tries = 0;
    }
  }
  if (spares.size() < kSpares) uv_idle_start(&refill_idle, OnRefill);
}

// One spare more, until there are kSpares, unless a request waits (it is served first).
void OnRefill(uv_idle_t* idle) {
  if (!requests.empty() || spares.size() >= kSpares || uv_is_active(reinterpret_cast<uv_handle_t*>(&retry_timer))) {
    uv_idle_stop(idle);
    return;
  }
  Napi::Env env(serving_env);
  Napi::HandleScope scope(env);
  const Forked forked = ForkSpare(env);
  if (forked == Forked::kInSpare) return;
  if (forked == Forked::kBusy && ++busy_tries < kMaxTries) {
    uv_idle_stop(idle);
    uv_timer_start(&retry_timer, OnRetry, 1, 0);
    return;
  }
  busy_tries = 0;
  if (forked == Forked::kFailed || spares.size() >= kSpares) uv_idle_stop(idle);
}

void OnRetry(uv_timer_t*) {
  Napi::Env env(serving_env);
  Napi::HandleScope scope(env);
  ServeRequests(env);
}

// The control socket is readable: a request (one byte, three descriptors), or EOF when the requester closed
// it or died — nothing left to serve.
void OnControl(uv_poll_t*, int, int) {
  char byte;
  pmp::RightsMessage message(&byte, 1);
  const ssize_t n = message.Receive(control_fd, MSG_CMSG_CLOEXEC);
  if (n < 0 && errno == EAGAIN) return;
  const std::vector<int> fds = message.ReceivedFds();
  if (n <= 0 && fds.empty()) {
    fflush(nullptr);
    _exit(0);
  }
  if (fds.size() != 3 || message.Truncated()) {
    for (int fd : fds) close(fd);
    return;
  }
  requests.push_back({fds[0], fds[1], fds[2]});
  if (requests.size() > 1 || uv_is_active(reinterpret_cast<uv_handle_t*>(&retry_timer))) return;  // being served
  Napi::Env env(serving_env);
  Napi::HandleScope scope(env);
  try {
    ServeRequests(env);
  } catch (const Napi::Error& error) {
    napi_fatal_exception(env, error.Value());
  }
}

// serve(controlFd, quiesceMs, onSpare): makes this hooked process a zygote. It moves the control socket out
// of the way of descriptors 0-3, starts reaping, forks a first spare and serves requests from then on (see
// above). It returns in the zygote; each spare, in the middle of a later callback of the event loop, calls
// onSpare(socket) — the zygote itself never runs JS again. A fork waits at most quiesceMs for V8's worker
// tasks to pause.
Napi::Value Serve(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int fd = Arg(info, 0);
  quiesce_ms = Arg(info, 1);
  if (!info[2].IsFunction()) throw Napi::TypeError::New(env, "binding argument 2 must be a function");
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
  uv_timer_init(loop, &retry_timer);
  uv_idle_init(loop, &refill_idle);
  // The zygote lives as long as its control socket, not as long as these.
  uv_unref(reinterpret_cast<uv_handle_t*>(&retry_timer));
  uv_unref(reinterpret_cast<uv_handle_t*>(&refill_idle));
  control_fd = moved;
  serving_env = env;
  on_spare = Napi::Persistent(info[2].As<Napi::Function>());
  if (!reaper_started) {
    reaper_started = true;
    std::thread(Reap).detach();
  }
  ServeRequests(env);
  return env.Undefined();
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
