#include "memory/mirror.h"

#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/errors.h"
#include "memory/mapping.h"

namespace pmp {

namespace {

size_t PageSize() {
  static const size_t size = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return size;
}

// The page at `offset` of `window`: the window must start on a page boundary (a WebAssembly memory does)
// and hold the whole page. Only posix-mp's own code calls this, with the buffer of its own WebAssembly
// memory; the checks keep a mistake from mapping over memory outside that buffer.
uint8_t* WindowPage(const Napi::CallbackInfo& info, size_t index) {
  Napi::Env env = info.Env();
  if (!info[index].IsArrayBuffer()) throw ArgTypeError(env, "expected the mirror window's ArrayBuffer");
  Napi::ArrayBuffer window = info[index].As<Napi::ArrayBuffer>();
  const double offset = ArgNumber(info, index + 1);
  auto* data = static_cast<uint8_t*>(window.Data());
  if (data == nullptr || reinterpret_cast<uintptr_t>(data) % PageSize() != 0) {
    throw ArgTypeError(env, "the mirror window must start on a page boundary");
  }
  if (!(offset >= 0 && offset + PageSize() <= window.ByteLength()) || static_cast<size_t>(offset) % PageSize() != 0) {
    throw ArgTypeError(env, "the mirror page must be a whole page inside the window");
  }
  return data + static_cast<size_t>(offset);
}

// mirrorPage(source, sourceOffset, window, windowOffset): maps the page of the shared mapping `source` that
// holds byte `sourceOffset` over the page at `windowOffset` of `window`. mremap() with an old size of 0
// duplicates a MAP_SHARED mapping: both addresses then reach the same physical page, so atomic operations
// through either are atomic with respect to the other and to every other process mapping the object. The
// mirror holds its own reference to the shared object, so it stays valid even if `source` is unmapped.
Napi::Value MirrorPage(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const MappedRange source = MappedRangeOf(env, info[0], static_cast<size_t>(ArgNumber(info, 1)), 1);
  uint8_t* target = WindowPage(info, 2);
  void* page = reinterpret_cast<void*>(reinterpret_cast<uintptr_t>(source.address) & ~(PageSize() - 1));
  void* mirrored = mremap(page, 0, PageSize(), MREMAP_MAYMOVE | MREMAP_FIXED, target);
  if (mirrored == MAP_FAILED) throw SystemError(env, errno, "mremap");
  return env.Undefined();
}

// unmirrorPage(window, windowOffset): puts a private zero page back where a mirror was, dropping the
// mirror's reference to the shared object.
Napi::Value UnmirrorPage(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint8_t* target = WindowPage(info, 0);
  void* page = mmap(target, PageSize(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  if (page == MAP_FAILED) throw SystemError(env, errno, "mmap");
  return env.Undefined();
}

}  // namespace

void InitMirror(Napi::Env env, Napi::Object exports) {
  exports.Set("pageSize", Napi::Number::New(env, static_cast<double>(PageSize())));
  exports.Set("mirrorPage", Napi::Function::New(env, MirrorPage, "mirrorPage"));
  exports.Set("unmirrorPage", Napi::Function::New(env, UnmirrorPage, "unmirrorPage"));
}

}  // namespace pmp
