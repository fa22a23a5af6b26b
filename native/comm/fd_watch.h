// Readiness of a descriptor, watched on the event loop: a uv_poll_t per watched descriptor (libuv allows one
// per descriptor per loop), so that async reads and writes on a Connection or Listener cost neither a thread
// of libuv's pool nor one of the addon's waiter threads. The callback runs on the JS thread with the events
// that are ready; what to do about them is decided in TypeScript.
#pragma once

#include <napi.h>

namespace pmp {

void InitFdWatch(Napi::Env env, Napi::Object exports);

}  // namespace pmp
