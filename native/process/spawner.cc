#include "process/spawner.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <vector>

#include "core/background_thread.h"
#include "process/reap.h"

namespace pmp {

namespace {

// The thread only forks and polls; it needs little stack (the clone child has its own).
constexpr size_t kStackSize = 256 * 1024;

class Spawner {
 public:
  // The running spawner, started on first use; null with *error set if it cannot be started. It is never
  // destroyed: the thread must outlive every child it forked.
  static Spawner* Get(int* error) {
    static std::mutex start_mutex;
    static Spawner* instance = nullptr;
    std::lock_guard<std::mutex> lock(start_mutex);
    if (instance == nullptr) {
      auto* spawner = new Spawner();
      *error = spawner->Start();
      if (*error != 0) {
        delete spawner;
        return nullptr;
      }
      instance = spawner;
    }
    return instance;
  }

  void Run(const std::function<void()>& task) {
    Task entry{&task};
    std::unique_lock<std::mutex> lock(mutex_);
    tasks_.push_back(&entry);
    Wake();
    done_.wait(lock, [&] { return entry.done; });
  }

  void Adopt(int pidfd) {
    std::lock_guard<std::mutex> lock(mutex_);
    adopted_.push_back(pidfd);
    Wake();
  }

 private:
  struct Task {
    const std::function<void()>* run;
    bool done = false;
  };

  ~Spawner() {
    if (event_fd_ >= 0) close(event_fd_);
  }

  int Start() {
    event_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (event_fd_ < 0) return errno;
    auto entry = [](void* self) -> void* {
      static_cast<Spawner*>(self)->Main();
      return nullptr;
    };
    return StartBackgroundThread(entry, this, kStackSize);
  }

  // Called with mutex_ held.
  void Wake() {
    const uint64_t one = 1;
    while (write(event_fd_, &one, sizeof one) < 0 && errno == EINTR) {
    }
  }

  // Reaps the orphan if it has exited (or is no longer ours to wait for); returns whether it is done.
  static bool ReapIfExited(int pidfd) {
    if (!ReapByPidfd(pidfd, false, nullptr)) return false;
    close(pidfd);
    return true;
  }

  void Main() {
    std::vector<int> orphans;
    std::vector<pollfd> polls;
    for (;;) {
      polls.assign(1, pollfd{event_fd_, POLLIN, 0});
      for (int fd : orphans) polls.push_back(pollfd{fd, POLLIN, 0});
      if (poll(polls.data(), polls.size(), -1) < 0) continue;  // EINTR; nothing else can fail here

      std::vector<int> still_running;
      for (size_t i = 1; i < polls.size(); ++i) {
        if (polls[i].revents == 0 || !ReapIfExited(polls[i].fd)) still_running.push_back(polls[i].fd);
      }
      orphans.swap(still_running);

      uint64_t count;
      while (read(event_fd_, &count, sizeof count) < 0 && errno == EINTR) {
      }
      std::unique_lock<std::mutex> lock(mutex_);
      orphans.insert(orphans.end(), adopted_.begin(), adopted_.end());
      adopted_.clear();
      while (!tasks_.empty()) {
        Task* task = tasks_.front();
        tasks_.pop_front();
        lock.unlock();
        (*task->run)();
        lock.lock();
        task->done = true;
        done_.notify_all();
      }
    }
  }

  int event_fd_ = -1;
  std::mutex mutex_;
  std::condition_variable done_;
  std::deque<Task*> tasks_;
  std::vector<int> adopted_;
};

}  // namespace

int RunOnSpawner(const std::function<void()>& task) {
  int error = 0;
  Spawner* spawner = Spawner::Get(&error);
  if (spawner == nullptr) return error;
  spawner->Run(task);
  return 0;
}

void AdoptOrphan(int pidfd) {
  int error = 0;
  Spawner* spawner = Spawner::Get(&error);
  // Only reachable after a successful spawn, so the spawner exists; if not, at least do not leak the fd.
  if (spawner == nullptr) {
    close(pidfd);
    return;
  }
  spawner->Adopt(pidfd);
}

}  // namespace pmp
