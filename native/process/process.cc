#include "process/process.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include <cctype>
#include <cstring>
#include <string>

#include "process/child_watch.h"
#include "core/background_thread.h"
#include "core/errors.h"
#include "process/fork_exec.h"
#include "process/spawner.h"

namespace pmp {

namespace {

std::string CheckedString(Napi::Env env, Napi::Value value, const char* what) {
  if (!value.IsString()) throw ArgTypeError(env, std::string(what) + " must be a string");
  std::string s = value.As<Napi::String>().Utf8Value();
  // A NUL would silently cut the string short in the C world. The TypeScript layer rejects it first.
  if (s.find('\0') != std::string::npos) throw ArgTypeError(env, std::string(what) + " must not contain NUL");
  return s;
}

std::vector<std::string> StringList(Napi::Env env, Napi::Value value, const char* what) {
  if (!value.IsArray()) throw ArgTypeError(env, std::string(what) + " must be an array");
  Napi::Array array = value.As<Napi::Array>();
  std::vector<std::string> list;
  list.reserve(array.Length());
  for (uint32_t i = 0; i < array.Length(); ++i) list.push_back(CheckedString(env, array.Get(i), what));
  return list;
}

int32_t Int(Napi::Env env, Napi::Value value, const char* what) {
  if (!value.IsNumber()) throw ArgTypeError(env, std::string(what) + " must be a number");
  return value.As<Napi::Number>().Int32Value();
}

// The request object built by lib/posix/spawn.ts: { file, paths, argv, envp, cwd, fds, setsid, pgid,
// deathSignal, umask, ref }. `file` is only used to name the program in errors.
ExecPlan ReadPlan(Napi::Env env, Napi::Object request) {
  ExecPlan plan;
  plan.paths = StringList(env, request.Get("paths"), "paths");
  plan.argv = StringList(env, request.Get("argv"), "argv");
  plan.envp = StringList(env, request.Get("envp"), "envp");
  Napi::Value cwd = request.Get("cwd");
  if (!cwd.IsUndefined()) plan.cwd = CheckedString(env, cwd, "cwd");
  Napi::Value fds = request.Get("fds");
  if (!fds.IsArray()) throw ArgTypeError(env, "fds must be an array");
  for (uint32_t i = 0; i < fds.As<Napi::Array>().Length(); ++i) {
    plan.fds.push_back(Int(env, fds.As<Napi::Array>().Get(i), "fds[i]"));
  }
  plan.setsid = request.Get("setsid").ToBoolean();
  plan.pgid = Int(env, request.Get("pgid"), "pgid");
  plan.death_signal = Int(env, request.Get("deathSignal"), "deathSignal");
  plan.umask = Int(env, request.Get("umask"), "umask");
  if (plan.paths.empty() || plan.argv.empty()) throw ArgTypeError(env, "paths and argv must not be empty");
  return plan;
}

// Runs the plan on the spawner thread; throws a SystemError naming the failed step.
ExecResult Execute(Napi::Env env, const ExecPlan& plan, Napi::Object request) {
  ExecResult result;
  const int error = RunOnSpawner([&] {
    try {
      result = ForkExec(plan);
    } catch (...) {  // allocation failure while preparing the plan
      result.error = ENOMEM;
      result.syscall = "spawn";
    }
  });
  if (error != 0) throw SystemError(env, error, "pthread_create");
  if (result.error != 0) {
    const std::string step = result.syscall;
    std::string path;
    if (step == "execve") path = CheckedString(env, request.Get("file"), "file");
    if (step == "chdir") path = plan.cwd;
    throw SystemError(env, result.error, result.syscall, path);
  }
  return result;
}

ChildWatches* Watches(const Napi::CallbackInfo& info) { return static_cast<ChildWatches*>(info.Data()); }

Napi::Object Request(const Napi::CallbackInfo& info) {
  if (!info[0].IsObject()) throw ArgTypeError(info.Env(), "binding argument 0 must be an object");
  return info[0].As<Napi::Object>();
}

// spawn(request, onExit(code, signal, coreDumped)) -> pid
Napi::Value Spawn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object request = Request(info);
  Napi::Function on_exit = ArgFunction(info, 1);
  ExecPlan plan = ReadPlan(env, request);
  plan.daemon = false;
  const ExecResult result = Execute(env, plan, request);
  Watches(info)->Add(env, result.pid, result.pidfd, on_exit, request.Get("ref").ToBoolean());
  return Napi::Number::New(env, result.pid);
}

// watchForkedChild(pid, channel, onExit(code, signal, coreDumped), ref): watches a child a fork server forked
// for this process (see ChildWatches::AddForked); `channel` is our end of its job channel.
Napi::Value WatchForkedChild(const Napi::CallbackInfo& info) {
  Watches(info)->AddForked(info.Env(), ArgInt32(info, 0), ArgInt32(info, 1), ArgFunction(info, 2), ArgBool(info, 3));
  return info.Env().Undefined();
}

// daemonize(request) -> pid of the daemon, which is not our child.
Napi::Value Daemonize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object request = Request(info);
  ExecPlan plan = ReadPlan(env, request);
  plan.daemon = true;
  plan.setsid = false;
  plan.pgid = -1;
  plan.death_signal = 0;
  return Napi::Number::New(env, Execute(env, plan, request).pid);
}

Napi::Error NotOurChild(Napi::Env env) { return SystemError(env, ECHILD, "waitpid"); }

// childWait(pid, timeoutMs) -> whether the child exited (its onExit has then been called). -1 waits forever.
Napi::Value ChildWait(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const pid_t pid = ArgInt32(info, 0);
  const Deadline deadline = Deadline::FromMs(ArgNumber(info, 1));
  ChildWatches* watches = Watches(info);
  if (!watches->Has(pid)) throw NotOurChild(env);
  return Napi::Boolean::New(env, watches->WaitSync(env, pid, deadline));
}

// childExitReport(pid, fd) -> false if the pid is not a watched child. Watches a copy of `fd`, the job
// channel of a Process child, for the exit report the child sends just before _exit() (see exitNow).
Napi::Value ChildExitReport(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), Watches(info)->WatchExitReport(ArgInt32(info, 0), ArgInt32(info, 1)));
}

// childRef(pid, ref) -> false if the pid is not a watched child.
Napi::Value ChildRef(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), Watches(info)->SetRef(ArgInt32(info, 0), ArgBool(info, 1)));
}

Napi::Value Kill(const Napi::CallbackInfo& info) {
  if (kill(ArgInt32(info, 0), ArgInt32(info, 1)) != 0) throw SystemError(info.Env(), errno, "kill");
  return info.Env().Undefined();
}

Napi::Value Killpg(const Napi::CallbackInfo& info) {
  if (killpg(ArgInt32(info, 0), ArgInt32(info, 1)) != 0) throw SystemError(info.Env(), errno, "killpg");
  return info.Env().Undefined();
}

Napi::Value Setsid(const Napi::CallbackInfo& info) {
  const pid_t sid = setsid();
  if (sid < 0) throw SystemError(info.Env(), errno, "setsid");
  return Napi::Number::New(info.Env(), sid);
}

Napi::Value Getpgid(const Napi::CallbackInfo& info) {
  const pid_t pgid = getpgid(ArgInt32(info, 0));
  if (pgid < 0) throw SystemError(info.Env(), errno, "getpgid");
  return Napi::Number::New(info.Env(), pgid);
}

// signalDisposition(signal, ignore): SIG_IGN if ignore, else SIG_DFL, for the whole process.
Napi::Value SignalDisposition(const Napi::CallbackInfo& info) {
  struct sigaction action {};
  action.sa_handler = ArgBool(info, 1) ? SIG_IGN : SIG_DFL;
  sigemptyset(&action.sa_mask);
  if (sigaction(ArgInt32(info, 0), &action, nullptr) != 0) throw SystemError(info.Env(), errno, "sigaction");
  return info.Env().Undefined();
}

// setParentDeathSignal(signal): PR_SET_PDEATHSIG for this process (0 clears it). A prepared interpreter is
// spawned with SIGKILL so that it never outlives its parent while idle; given a non-daemon job, it clears the
// signal, since non-daemon children survive their parent (as in Python).
Napi::Value SetParentDeathSignal(const Napi::CallbackInfo& info) {
  if (prctl(PR_SET_PDEATHSIG, static_cast<unsigned long>(ArgUint32(info, 0))) != 0) {
    throw SystemError(info.Env(), errno, "prctl");
  }
  return info.Env().Undefined();
}

// The job channel on which exitNow() reports the exit status (see reportExitOn), and which socket it was:
// user code may close that descriptor and reuse its number for something else.
int exit_report_fd = -1;
dev_t exit_report_dev = 0;
ino_t exit_report_ino = 0;

// reportExitOn(fd): exitNow() reports on `fd` (a Process child's job channel) while it is still this socket.
Napi::Value ReportExitOn(const Napi::CallbackInfo& info) {
  const int fd = ArgInt32(info, 0);
  struct stat status;
  if (fstat(fd, &status) != 0) throw SystemError(info.Env(), errno, "fstat");
  exit_report_fd = fd;
  exit_report_dev = status.st_dev;
  exit_report_ino = status.st_ino;
  return info.Env().Undefined();
}

// exitNow(code): _exit(code), for a Process child whose 'exit' listeners have run. Node's own exit disposes
// of the platform and runs atexit handlers and static destructors, milliseconds that the parent's join()
// would wait for; the kernel releases everything anyway. Standard output and error are already written: Node
// writes them synchronously to files and pipes on Linux.
// The exit status is first sent on the job channel (reportExitOn), if the descriptor is still that socket:
// the parent would otherwise learn it only once the kernel has torn this process down, 3-8 ms for a Node
// process on a virtual machine. No code of this process runs after the report. A failed send only costs the
// parent that wait.
Napi::Value ExitNow(const Napi::CallbackInfo& info) {
  const int32_t code = ArgInt32(info, 0) & 0xff;
  struct stat status;
  if (exit_report_fd >= 0 && fstat(exit_report_fd, &status) == 0 && status.st_dev == exit_report_dev &&
      status.st_ino == exit_report_ino) {
    ssize_t n;
    do n = send(exit_report_fd, &code, sizeof code, MSG_NOSIGNAL | MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
  }
  _exit(code);
}

// environmentBlock() -> this process's environment as one string: `KEY=value` entries, each ended by a NUL
// (see lib/process/job.ts). Read from environ in one pass: building it from process.env costs a getenv() and
// two strings per variable (~60 µs of each start). Entries without '=' are skipped, as libuv skips them.
Napi::Value EnvironmentBlock(const Napi::CallbackInfo& info) {
  std::string block;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const char* equals = strchr(*entry, '=');
    if (equals == nullptr || equals == *entry) continue;
    block += *entry;
    block += '\0';
  }
  return Napi::String::New(info.Env(), block);
}

// backgroundThreadsStarted() -> how many waiter or spawner threads this process has ever started.
Napi::Value BackgroundThreadsStartedCount(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), BackgroundThreadsStarted());
}

}  // namespace

void InitProcess(Napi::Env env, Napi::Object exports) {
  // Functions that touch this environment's children carry its watch list as their data.
  ChildWatches* watches = ChildWatches::Create(env);
  exports.Set("spawn", Napi::Function::New(env, Spawn, "spawn", watches));
  exports.Set("watchForkedChild", Napi::Function::New(env, WatchForkedChild, "watchForkedChild", watches));
  exports.Set("daemonize", Napi::Function::New(env, Daemonize, "daemonize"));
  exports.Set("childWait", Napi::Function::New(env, ChildWait, "childWait", watches));
  exports.Set("childRef", Napi::Function::New(env, ChildRef, "childRef", watches));
  exports.Set("childExitReport", Napi::Function::New(env, ChildExitReport, "childExitReport", watches));
  exports.Set("kill", Napi::Function::New(env, Kill, "kill"));
  exports.Set("killpg", Napi::Function::New(env, Killpg, "killpg"));
  exports.Set("setsid", Napi::Function::New(env, Setsid, "setsid"));
  exports.Set("getpgid", Napi::Function::New(env, Getpgid, "getpgid"));
  exports.Set("reportExitOn", Napi::Function::New(env, ReportExitOn, "reportExitOn"));
  exports.Set("exitNow", Napi::Function::New(env, ExitNow, "exitNow"));
  exports.Set("environmentBlock", Napi::Function::New(env, EnvironmentBlock, "environmentBlock"));
  exports.Set("backgroundThreadsStarted",
              Napi::Function::New(env, BackgroundThreadsStartedCount, "backgroundThreadsStarted"));
  exports.Set("setParentDeathSignal", Napi::Function::New(env, SetParentDeathSignal, "setParentDeathSignal"));
  exports.Set("signalDisposition", Napi::Function::New(env, SignalDisposition, "signalDisposition"));
}

}  // namespace pmp
