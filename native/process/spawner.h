// The process's spawner thread: every child is forked from it. PR_SET_PDEATHSIG fires when the *thread* that
// forked the child exits, not the process; forking from a JS thread would kill a worker_thread's children
// (deathSignal) when that worker ends. The spawner thread lives as long as the process, so a child with a
// death signal dies exactly when this process does.
//
// The same thread reaps orphans: children whose Node environment (a worker_thread) went away before they
// exited, so nothing else would ever wait for them and they would stay zombies.
#pragma once

#include <functional>

namespace pmp {

// Runs `task` on the spawner thread and returns once it has finished. Returns 0, or an errno if the thread
// could not be started. `task` must not throw.
int RunOnSpawner(const std::function<void()>& task);

// Takes ownership of the pidfd of a child of this process: the spawner thread reaps the child when it exits
// and then closes the pidfd.
void AdoptOrphan(int pidfd);

}  // namespace pmp
