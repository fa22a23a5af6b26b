// Message channels between a parent and the children it starts: a SOCK_SEQPACKET socket pair whose messages
// can carry open descriptors (SCM_RIGHTS). This is how a Process job — and the memfd files behind the
// anonymous shared objects in its arguments — reaches a child, including a prepared one that is already
// running and so cannot get them at exec time.
#pragma once

#include <napi.h>

namespace pmp {

void InitFdPassing(Napi::Env env, Napi::Object exports);

}  // namespace pmp
