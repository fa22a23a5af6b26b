#include "forkserver/platform_hooks.h"

#include <dlfcn.h>

#include <cstring>

namespace pmpfs {

namespace {

// NodePlatform's virtual methods, as the Itanium C++ ABI names them (Node 18-22 on Linux).
constexpr const char* kSymbols[3] = {
    "_ZN4node12NodePlatform18CallOnWorkerThreadESt10unique_ptrIN2v84TaskESt14default_deleteIS3_EE",
    "_ZN4node12NodePlatform25CallDelayedOnWorkerThreadESt10unique_ptrIN2v84TaskESt14default_deleteIS3_EEd",
    "_ZN4node12NodePlatform10DrainTasksEPN2v87IsolateE",
};
// Slots searched: NodePlatform has ~30 virtual methods; the three must each appear exactly once.
constexpr int kSlots = 64;
// An Itanium virtual table is preceded by the offset-to-top and the type-info pointer.
constexpr int kHeader = 2;

WorkerPool* pool = nullptr;
node::MultiIsolatePlatform* hooked = nullptr;

void CallOnWorkerThread(void*, std::unique_ptr<v8::Task> task) { pool->Post(std::move(task)); }

void CallDelayedOnWorkerThread(void*, std::unique_ptr<v8::Task> task, double delay_seconds) {
  pool->PostDelayed(std::move(task), delay_seconds);
}

// How long DrainTasks waits for the worker tasks before it runs the foreground tasks posted meanwhile.
constexpr int kDrainSliceMs = 5;

// NodePlatform::DrainTasks: runs worker tasks and the isolate's foreground tasks until neither is left. The
// wait for the worker tasks is sliced: a task may itself wait for the main thread — a concurrent compile job
// that needs a garbage collection posts it as a foreground task and blocks until it is done — so the
// foreground tasks must run while worker tasks are still running, or both threads would wait forever.
void DrainTasks(void*, v8::Isolate* isolate) {
  for (;;) {
    const bool idle = pool->Drain(kDrainSliceMs);
    if (!hooked->FlushForegroundTasks(isolate) && idle) return;
  }
}

// The slot index of each of kSymbols in the platform's table, or why they cannot be found.
std::string FindSlots(node::MultiIsolatePlatform* platform, int slots[3]) {
  if (platform == nullptr) return "no Node platform";
  void* const* table = *reinterpret_cast<void* const* const*>(platform);
  for (int i = 0; i < 3; ++i) {
    void* method = dlsym(RTLD_DEFAULT, kSymbols[i]);
    if (method == nullptr) return std::string("symbol not found: ") + kSymbols[i];
    slots[i] = -1;
    for (int slot = 0; slot < kSlots; ++slot) {
      if (table[slot] != method) continue;
      if (slots[i] >= 0) return std::string("symbol twice in the platform's virtual table: ") + kSymbols[i];
      slots[i] = slot;
    }
    if (slots[i] < 0) return std::string("symbol not in the platform's virtual table: ") + kSymbols[i];
  }
  return "";
}

}  // namespace

std::string CheckPlatform(node::MultiIsolatePlatform* platform) {
  if (hooked != nullptr) return "";
  int slots[3];
  return FindSlots(platform, slots);
}

std::string HookPlatform(node::MultiIsolatePlatform* platform, int threads) {
  if (hooked != nullptr) return "";
  int slots[3];
  std::string problem = FindSlots(platform, slots);
  if (!problem.empty()) return problem;
  void* const* table = *reinterpret_cast<void* const* const*>(platform);
  // A copy of the table (the original is read-only), header included, with the three slots replaced.
  void** copy = new void*[kHeader + kSlots];
  std::memcpy(copy, table - kHeader, sizeof(void*) * (kHeader + kSlots));
  void** replaced = copy + kHeader;
  replaced[slots[0]] = reinterpret_cast<void*>(&CallOnWorkerThread);
  replaced[slots[1]] = reinterpret_cast<void*>(&CallDelayedOnWorkerThread);
  replaced[slots[2]] = reinterpret_cast<void*>(&DrainTasks);
  pool = new WorkerPool(threads);
  hooked = platform;
  *reinterpret_cast<void***>(platform) = replaced;
  return "";
}

WorkerPool* HookedPool() { return pool; }

void ReplacePool(WorkerPool* replacement) { pool = replacement; }

}  // namespace pmpfs
