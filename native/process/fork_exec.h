// fork+exec of a new program, prepared entirely before the clone: between clone and execve the child only
// reads the prepared plan and makes raw system calls, so it never allocates, locks or runs a signal handler.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace pmp {

// What the new program gets. Built on the JS thread, executed on the spawner thread (spawner.h).
struct ExecPlan {
  // execve candidates in order, e.g. every PATH entry + "/" + file (the search itself is policy, done in
  // TypeScript against the child's environment). The error of the last relevant candidate is reported.
  std::vector<std::string> paths;
  std::vector<std::string> argv;  // complete, argv[0] included
  std::vector<std::string> envp;  // "NAME=value"
  std::string cwd;                // empty: the parent's
  // Child descriptor i becomes a copy of the parent's fds[i]; -1 opens /dev/null there, -2 leaves it closed
  // (treated as -1 for 0..2). Every other descriptor is closed on exec, whatever its flags were in the
  // parent. Fewer than 3 entries are padded with /dev/null: a program must never find its stdio slots free
  // for the next open() to take.
  std::vector<int> fds;
  bool setsid = false;
  int pgid = -1;          // -1: stay in the parent's group; 0: a new group led by the child; >0: join it
  int death_signal = 0;   // PR_SET_PDEATHSIG; 0: none
  // Double fork: the direct child calls setsid, forks the program's process and exits, so the program is
  // reparented to init (or the nearest subreaper) and is never our child or zombie.
  bool daemon = false;
  int umask = -1;         // daemon only; -1: unchanged
};

struct ExecResult {
  pid_t pid = -1;
  int pidfd = -1;                 // non-daemon success: the child's pidfd (close-on-exec), owned by the caller
  int error = 0;                  // errno of the failed step, 0 on success
  const char* syscall = nullptr;  // the failed step: "execve", "chdir", "setsid", ...
};

// Starts the program. Must run on the spawner thread: the child's PR_SET_PDEATHSIG is tied to the thread
// that forks it. A failed exec is reported as an error (the failed child is reaped before returning).
ExecResult ForkExec(const ExecPlan& plan);

}  // namespace pmp
