#include "process/reap.h"

#include <errno.h>
#include <sys/wait.h>

namespace pmp {

bool ReapByPidfd(int pidfd, bool block, ExitInfo* info) {
  siginfo_t si;
  si.si_pid = 0;
  int rc;
  do rc = waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd), &si, WEXITED | (block ? 0 : WNOHANG));
  while (rc < 0 && errno == EINTR);
  if (rc < 0) return true;
  if (si.si_pid == 0) return false;
  if (info != nullptr) {
    if (si.si_code == CLD_EXITED) {
      info->code = si.si_status;
    } else {
      info->signal = si.si_status;
      info->core_dumped = si.si_code == CLD_DUMPED;
    }
  }
  return true;
}

}  // namespace pmp
