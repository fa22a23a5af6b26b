// The child is started with clone(CLONE_VM | CLONE_VFORK | CLONE_PIDFD), the way glibc's posix_spawn does:
// it borrows the parent's memory instead of copying a large Node heap's page tables, the spawner thread is
// suspended until the child has exec'd or exited, and the pidfd arrives atomically with the pid. Because
// the child shares our memory it must not touch anything the parent uses: it runs on its own stack, with
// every signal blocked until all dispositions are back to SIG_DFL, and makes raw system calls only (no libc
// wrapper that could take a lock or be intercepted by a sanitizer runtime).
#include "process/fork_exec.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdint>

#include "process/reap.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

// Code that runs in the child between clone and execve: shares the parent's memory, so no sanitizer
// bookkeeping (shadow memory, fake stacks) may run there.
#define PMP_CHILD_CODE __attribute__((no_sanitize("address", "undefined")))

namespace pmp {

namespace {

// The steps a child can fail at; reported to the parent as an index into kStepNames.
enum Step : int32_t { kExecve, kChdir, kSetsid, kSetpgid, kPrctl, kDup, kFork };
const char* const kStepNames[] = {"execve", "chdir", "setsid", "setpgid", "prctl", "dup2", "fork"};

const char* StepName(int32_t step) {
  return step >= 0 && step <= kFork ? kStepNames[step] : "spawn";
}

// Special entries of ExecPlan::fds.
constexpr int kDevNull = -1;
constexpr int kClosed = -2;

struct Report {
  int32_t step;
  int32_t error;
};

// The kernel's sigset_t is 64 bits (glibc's is larger), and its struct sigaction with SIG_DFL, no flags and
// an empty mask is all zeroes on every 64-bit Linux layout.
constexpr size_t kKernelSigsetSize = sizeof(uint64_t);
constexpr int kMaxSignal = 64;
constexpr size_t kChildStackSize = 64 * 1024;

struct ChildContext {
  const ExecPlan* plan;
  char* const* paths;
  size_t path_count;
  char* const* argv;
  char* const* envp;
  const char* cwd;        // null: stay
  // Child fd i <- sources[i], or closed if negative. Every source is >= fd_count, so placing one slot never
  // overwrites the source of another.
  const int* sources;
  int fd_count;
  int report_fd;          // write end of the close-on-exec report pipe
  pid_t parent;
  long max_fd;            // for kernels without close_range
  pid_t daemon_pid;       // set by a daemon's intermediate process, which shares our memory
};

[[noreturn]] PMP_CHILD_CODE void Fail(const ChildContext* c, Step step, int error) {
  Report report{step, error};
  syscall(SYS_write, c->report_fd, &report, sizeof report);
  syscall(SYS_exit_group, 127);
  __builtin_unreachable();
}

// fork() for the daemon's intermediate process: the raw system call, as no libc fork handler may run there.
PMP_CHILD_CODE long RawFork() {
#ifdef SYS_fork
  return syscall(SYS_fork);
#else
  return syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
#endif
}

PMP_CHILD_CODE int ChildMain(void* arg) {
  ChildContext* c = static_cast<ChildContext*>(arg);
  const ExecPlan& plan = *c->plan;

  // Node installs handlers and ignores SIGPIPE; a new program starts with every disposition at default.
  // Signals stay blocked (inherited from the spawner's clone) until this is done: a handler running here
  // would run Node's code on Node's memory.
  const unsigned long default_action[4] = {0, 0, 0, 0};
  for (int sig = 1; sig <= kMaxSignal; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    syscall(SYS_rt_sigaction, sig, default_action, nullptr, kKernelSigsetSize);
  }

  if (plan.daemon) {
    if (syscall(SYS_setsid) < 0) Fail(c, kSetsid, errno);
    const long pid = RawFork();
    if (pid < 0) Fail(c, kFork, errno);
    if (pid > 0) {
      c->daemon_pid = static_cast<pid_t>(pid);
      syscall(SYS_exit_group, 0);
    }
    // The daemon: a session member but not its leader, so it can never acquire a controlling terminal.
    if (plan.umask >= 0) syscall(SYS_umask, plan.umask);
  } else if (plan.setsid) {
    if (syscall(SYS_setsid) < 0) Fail(c, kSetsid, errno);
  } else if (plan.pgid >= 0) {
    if (syscall(SYS_setpgid, 0, plan.pgid) < 0) Fail(c, kSetpgid, errno);
  }

  if (plan.death_signal > 0) {
    if (syscall(SYS_prctl, PR_SET_PDEATHSIG, plan.death_signal, 0, 0, 0) < 0) Fail(c, kPrctl, errno);
    // If the parent died before prctl, nobody will ever send the signal: send it ourselves, as the kernel
    // would have. It stays pending until the mask is cleared below.
    if (syscall(SYS_getppid) != c->parent) syscall(SYS_kill, syscall(SYS_getpid), plan.death_signal);
  }

  for (int fd = 0; fd < c->fd_count; ++fd) {
    if (c->sources[fd] < 0) {
      // A slot planned closed: whatever the child inherited at this number goes at exec.
      syscall(SYS_fcntl, fd, F_SETFD, FD_CLOEXEC);
      continue;
    }
    // dup3 clears close-on-exec on the copy: exactly the planned descriptors survive the exec.
    if (syscall(SYS_dup3, c->sources[fd], fd, 0) < 0) Fail(c, kDup, errno);
    if (fd <= 2) {
      // Like libuv: ordinary programs expect blocking stdio, and Node may have made a shared pipe or TTY
      // non-blocking (the flag belongs to the open file description, so this affects it everywhere).
      const long flags = syscall(SYS_fcntl, fd, F_GETFL);
      if (flags >= 0 && (flags & O_NONBLOCK) != 0) syscall(SYS_fcntl, fd, F_SETFL, flags & ~O_NONBLOCK);
    }
  }
  // Descriptors the parent opened without O_CLOEXEC (other libraries, inherited ones) must not leak.
  if (syscall(SYS_close_range, c->fd_count, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
    for (long fd = c->fd_count; fd < c->max_fd; ++fd) syscall(SYS_fcntl, fd, F_SETFD, FD_CLOEXEC);
  }

  if (c->cwd != nullptr && syscall(SYS_chdir, c->cwd) < 0) Fail(c, kChdir, errno);

  const uint64_t no_signals = 0;
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, &no_signals, nullptr, kKernelSigsetSize);

  // execvp's rules: keep trying on "not here" errors, remember EACCES, stop at anything else.
  int error = ENOENT;
  bool denied = false;
  for (size_t i = 0; i < c->path_count; ++i) {
    syscall(SYS_execve, c->paths[i], c->argv, c->envp);
    error = errno;
    if (error == EACCES) {
      denied = true;
    } else if (error != ENOENT && error != ENOTDIR && error != ESTALE && error != ENODEV && error != ETIMEDOUT) {
      Fail(c, kExecve, error);
    }
  }
  Fail(c, kExecve, denied ? EACCES : error);
}

// Descriptors the parent prepares for one spawn; all close-on-exec and closed when the spawn is done.
class FdSet {
 public:
  FdSet() = default;
  FdSet(const FdSet&) = delete;
  FdSet& operator=(const FdSet&) = delete;
  ~FdSet() {
    for (int fd : fds_) close(fd);
  }
  // Takes ownership of fd (if valid) and moves it to a number >= min; returns it, or -1 with errno set.
  int Adopt(int fd, int min) {
    if (fd < 0) return -1;
    if (fd < min) {
      const int moved = fcntl(fd, F_DUPFD_CLOEXEC, min);
      const int saved = errno;
      close(fd);
      errno = saved;
      if (moved < 0) return -1;
      fd = moved;
    }
    fds_.push_back(fd);
    return fd;
  }
  void Close(int fd) {
    auto it = std::find(fds_.begin(), fds_.end(), fd);
    if (it != fds_.end()) {
      close(fd);
      fds_.erase(it);
    }
  }

 private:
  std::vector<int> fds_;
};

std::vector<char*> CStrings(const std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  pointers.reserve(strings.size() + 1);
  for (const std::string& s : strings) pointers.push_back(const_cast<char*>(s.c_str()));
  pointers.push_back(nullptr);
  return pointers;
}

ExecResult Failed(int error, const char* syscall) {
  ExecResult result;
  result.error = error;
  result.syscall = syscall;
  return result;
}

// Waits for a child that has exited or is about to (its exec failed, or it is a daemon's intermediate).
void Reap(int pidfd) {
  ReapByPidfd(pidfd, true, nullptr);
  close(pidfd);
}

}  // namespace

ExecResult ForkExec(const ExecPlan& plan) {
  const int fd_count = static_cast<int>(std::max<size_t>(plan.fds.size(), 3));
  FdSet prepared;

  // Every source descriptor is copied above the planned range first, so that placing child fd i can never
  // overwrite the source of another slot (e.g. fds [1, 0] swaps them).
  std::vector<int> sources(static_cast<size_t>(fd_count));
  int dev_null = -1;
  for (int fd = 0; fd < fd_count; ++fd) {
    const int parent_fd = static_cast<size_t>(fd) < plan.fds.size() ? plan.fds[fd] : kDevNull;
    if (parent_fd == kClosed && fd > 2) {
      sources[fd] = -1;
    } else if (parent_fd >= 0) {
      sources[fd] = prepared.Adopt(fcntl(parent_fd, F_DUPFD_CLOEXEC, fd_count), fd_count);
      if (sources[fd] < 0) return Failed(errno, "dup");
    } else {
      if (dev_null < 0) {
        dev_null = prepared.Adopt(open("/dev/null", O_RDWR | O_CLOEXEC), fd_count);
        if (dev_null < 0) return Failed(errno, "open");
      }
      sources[fd] = dev_null;
    }
  }

  // The child reports a failure through this pipe; a successful exec closes its end (close-on-exec), so
  // the parent reads either a Report or end-of-file.
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) return Failed(errno, "pipe");
  const int report_read = prepared.Adopt(pipe_fds[0], fd_count);
  const int report_write = prepared.Adopt(pipe_fds[1], fd_count);
  if (report_read < 0 || report_write < 0) return Failed(errno, "dup");

  std::vector<char*> paths = CStrings(plan.paths);
  std::vector<char*> argv = CStrings(plan.argv);
  std::vector<char*> envp = CStrings(plan.envp);

  rlimit files{};
  getrlimit(RLIMIT_NOFILE, &files);

  ChildContext context{};
  context.plan = &plan;
  context.paths = paths.data();
  context.path_count = plan.paths.size();
  context.argv = argv.data();
  context.envp = envp.data();
  context.cwd = plan.cwd.empty() ? nullptr : plan.cwd.c_str();
  context.sources = sources.data();
  context.fd_count = fd_count;
  context.report_fd = report_write;
  context.parent = getpid();
  context.max_fd = static_cast<long>(std::min<rlim_t>(files.rlim_cur, INT_MAX));  // caps RLIM_INFINITY too

  // The child's stack, with a guard page below it.
  const long page = sysconf(_SC_PAGESIZE);
  const size_t mapped = kChildStackSize + static_cast<size_t>(page);
  void* stack = mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) return Failed(errno, "mmap");
  mprotect(stack, static_cast<size_t>(page), PROT_NONE);
  void* stack_top = static_cast<char*>(stack) + mapped;

  // Block everything, glibc's internal signals included (hence the raw call): the child inherits the mask
  // and must receive nothing until its dispositions are reset.
  const uint64_t all_signals = ~uint64_t{0};
  uint64_t previous_mask = 0;
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all_signals, &previous_mask, kKernelSigsetSize);
  int pidfd = -1;
  const pid_t pid = clone(ChildMain, stack_top, CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD, &context, &pidfd);
  const int clone_error = errno;
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, &previous_mask, nullptr, kKernelSigsetSize);
  munmap(stack, mapped);
  if (pid < 0) return Failed(clone_error, "clone");

  // Only the child (and a daemon's grandchild, until it execs) may hold the write end now.
  prepared.Close(report_write);
  Report report{};
  ssize_t got;
  do got = read(report_read, &report, sizeof report); while (got < 0 && errno == EINTR);
  const bool failed = got == static_cast<ssize_t>(sizeof report);

  if (plan.daemon) {
    // The intermediate process has exited (that is what let clone return); it must not stay a zombie.
    Reap(pidfd);
    if (failed) return Failed(report.error, StepName(report.step));
    if (context.daemon_pid <= 0) return Failed(ECHILD, "fork");
    ExecResult result;
    result.pid = context.daemon_pid;
    return result;
  }
  if (failed) {
    Reap(pidfd);
    return Failed(report.error, StepName(report.step));
  }
  ExecResult result;
  result.pid = pid;
  result.pidfd = pidfd;
  return result;
}

}  // namespace pmp
