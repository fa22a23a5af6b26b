// Per-environment state of the addon (one per Node main thread or worker_thread).
#pragma once

#include <napi.h>

#include <memory>

namespace pmp {

class Waiter;

struct Addon {
  std::unique_ptr<Waiter> waiter;
  Napi::FunctionReference semaphore_class;
};

Addon& GetAddon(Napi::Env env);

}  // namespace pmp
