#include "memory/mapping.h"

#include <errno.h>
#include <sys/mman.h>

#include <map>
#include <mutex>

#include "core/errors.h"

namespace pmp {

namespace {
// Every live mapping of the process, by start address. Worker threads share mappings, so this is global.
std::mutex registry_mutex;
std::map<uintptr_t, std::weak_ptr<Mapping>>& Registry() {
  static auto* registry = new std::map<uintptr_t, std::weak_ptr<Mapping>>();
  return *registry;
}
// The reference of each mapping's ArrayBuffer, by start address, under registry_mutex. It lives here rather
// than in the ArrayBuffer's finalizer because V8 runs that finalizer only after a garbage collection (and a
// later turn of the event loop), and detaching does not run it: unmap() drops the reference at once.
std::map<uintptr_t, std::shared_ptr<Mapping>>& JsReferences() {
  static auto* references = new std::map<uintptr_t, std::shared_ptr<Mapping>>();
  return *references;
}

// Drops the ArrayBuffer's reference to `mapping` if it still holds one. The pages go at once unless a native
// wait holds another reference; the Mapping is destroyed outside registry_mutex (its destructor takes it).
void DropJsReference(const std::shared_ptr<Mapping>& mapping) {
  std::shared_ptr<Mapping> dropped;
  std::lock_guard<std::mutex> lock(registry_mutex);
  auto& references = JsReferences();
  auto it = references.find(reinterpret_cast<uintptr_t>(mapping->data()));
  if (it == references.end() || it->second != mapping) return;
  dropped = std::move(it->second);
  references.erase(it);
}
}  // namespace

std::shared_ptr<Mapping> Mapping::Create(Napi::Env env, int fd, size_t size) {
  if (size == 0) throw SystemError(env, EINVAL, "mmap");
  void* data = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (data == MAP_FAILED) throw SystemError(env, errno, "mmap");
  std::shared_ptr<Mapping> mapping(new Mapping(static_cast<uint8_t*>(data), size));
  std::lock_guard<std::mutex> lock(registry_mutex);
  Registry()[reinterpret_cast<uintptr_t>(data)] = mapping;
  return mapping;
}

std::shared_ptr<Mapping> Mapping::Find(const void* address, size_t length) {
  const auto start = reinterpret_cast<uintptr_t>(address);
  std::lock_guard<std::mutex> lock(registry_mutex);
  auto& registry = Registry();
  auto it = registry.upper_bound(start);
  if (it == registry.begin()) return nullptr;
  --it;
  std::shared_ptr<Mapping> mapping = it->second.lock();
  if (!mapping) return nullptr;
  const auto base = reinterpret_cast<uintptr_t>(mapping->data());
  if (start + length > base + mapping->size()) return nullptr;
  return mapping;
}

Mapping::~Mapping() {
  {
    std::lock_guard<std::mutex> lock(registry_mutex);
    Registry().erase(reinterpret_cast<uintptr_t>(data_));
  }
  munmap(data_, size_);
}

MappedRange MappedRangeOf(Napi::Env env, Napi::Value value, size_t offset, size_t length) {
  if (!value.IsArrayBuffer()) throw ArgTypeError(env, "expected an ArrayBuffer of shared memory");
  Napi::ArrayBuffer buffer = value.As<Napi::ArrayBuffer>();
  if (offset > buffer.ByteLength() || length > buffer.ByteLength() - offset) {
    throw ArgTypeError(env, "range outside the shared memory");
  }
  auto* address = static_cast<uint8_t*>(buffer.Data()) + offset;
  std::shared_ptr<Mapping> mapping = Mapping::Find(address, length);
  if (!mapping) throw ArgTypeError(env, "The memory must be posix-mp shared memory (a SharedMemory, Value or Array)");
  return {std::move(mapping), address, length};
}

namespace {

// map(fd, size) -> ArrayBuffer over a fresh MAP_SHARED mapping. The ArrayBuffer holds one reference (in
// JsReferences, until unmap() or its finalizer); native waits take more while they sleep.
Napi::Value Map(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int fd = ArgInt32(info, 0);
  const double size = ArgNumber(info, 1);
  if (!(size > 0 && size <= static_cast<double>(SIZE_MAX))) throw SystemError(env, EINVAL, "mmap");
  std::shared_ptr<Mapping> mapping = Mapping::Create(env, fd, static_cast<size_t>(size));
  {
    std::lock_guard<std::mutex> lock(registry_mutex);
    JsReferences()[reinterpret_cast<uintptr_t>(mapping->data())] = mapping;
  }
  auto* weak = new std::weak_ptr<Mapping>(mapping);
  return Napi::ArrayBuffer::New(
      env, mapping->data(), mapping->size(),
      [](Napi::Env, void*, std::weak_ptr<Mapping>* hint) {
        if (std::shared_ptr<Mapping> mapping = hint->lock()) DropJsReference(mapping);
        delete hint;
      },
      weak);
}

// unmap(arrayBuffer): detaches it, so no JS can reach the memory, and unmaps it now — or, if native waits
// sleep on a word inside it, when the last of them returns.
Napi::Value Unmap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const MappedRange range = MappedRangeOf(env, info[0], 0, 0);  // throws unless it is one of our mappings
  info[0].As<Napi::ArrayBuffer>().Detach();
  DropJsReference(range.mapping);
  return env.Undefined();
}

}  // namespace

void InitMapping(Napi::Env env, Napi::Object exports) {
  exports.Set("map", Napi::Function::New(env, Map, "map"));
  exports.Set("unmap", Napi::Function::New(env, Unmap, "unmap"));
}

}  // namespace pmp
