// Non-blocking byte-stream I/O on the descriptors behind a Connection (lib/comm/connection.ts): a socket
// pair or a pipe, and sockets from Listener/Client. Reads and writes never block — the TypeScript layer waits
// for readiness with pollFd (sync forms) or an FdWatcher (async forms, fd_watch.h) — and on sockets they carry
// descriptors (SCM_RIGHTS), attached to the bytes they were sent with.
#pragma once

#include <napi.h>

namespace pmp {

void InitStreamIo(Napi::Env env, Napi::Object exports);

}  // namespace pmp
