// Bindings for processes: spawn/daemonize (fork+exec on the spawner thread), watching and waiting for our
// children, kill/killpg, sessions and process groups, signal dispositions.
#pragma once

#include <napi.h>

namespace pmp {

void InitProcess(Napi::Env env, Napi::Object exports);

}  // namespace pmp
