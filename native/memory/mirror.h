// Mirrors: one page of a shared mapping mapped a second time, at a chosen page of another buffer. lib/
// wasm_lock.ts mirrors lock words into a WebAssembly memory, whose atomic instructions V8 compiles inline
// (each `Atomics.*` call from JS costs tens of nanoseconds in Node 20; a call into WebAssembly, a few).
#pragma once

#include <napi.h>

namespace pmp {

void InitMirror(Napi::Env env, Napi::Object exports);

}  // namespace pmp
