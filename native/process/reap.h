// Reaping a child by its pidfd (waitid P_PIDFD) — never waitpid(-1), which would steal other code's
// children. The event loop's watches, the spawner's orphans and failed spawns all reap this way.
#pragma once

namespace pmp {

// How a child ended: `code` is its exit status (-1 if a signal killed it, or if its status is lost), `signal`
// the signal that killed it (0 if none).
struct ExitInfo {
  int code = -1;
  int signal = 0;
  bool core_dumped = false;
};

// Reaps the child `pidfd` refers to, first waiting for it to exit if `block`. True once it is reaped, or is
// no longer this process's to reap (ECHILD: something else reaped it; `info` then keeps "code -1, no signal");
// false while it still runs (only without `block`). `info` may be null. The pidfd stays open.
bool ReapByPidfd(int pidfd, bool block, ExitInfo* info);

}  // namespace pmp
