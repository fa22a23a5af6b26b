// Stream sockets for Listener/Client (lib/comm/listener.ts, client.ts): AF_UNIX by path and TCP by numeric
// address (names are resolved in TypeScript). Every descriptor is non-blocking and close-on-exec; waiting
// for a connection or for a connect to finish is done on the event loop (fd_watch.h) or with pollFd.
#pragma once

#include <napi.h>

namespace pmp {

void InitSocket(Napi::Env env, Napi::Object exports);

}  // namespace pmp
