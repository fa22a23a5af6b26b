// MAP_SHARED mappings exposed to JS as external ArrayBuffers (zero-copy). A mapping is unmapped only when
// nothing uses it any more: neither its ArrayBuffer (detached on close, so JS can never touch unmapped
// memory) nor a native wait sleeping on a word inside it.
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <memory>

namespace pmp {

class Mapping {
 public:
  // mmap(fd, size) MAP_SHARED read-write; throws a SystemError on failure.
  static std::shared_ptr<Mapping> Create(Napi::Env env, int fd, size_t size);
  // The live mapping containing [address, address + length), or null if there is none.
  static std::shared_ptr<Mapping> Find(const void* address, size_t length);

  ~Mapping();
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;

  uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  Mapping(uint8_t* data, size_t size) : data_(data), size_(size) {}
  uint8_t* data_;
  size_t size_;
};

// The mapping behind a typed array or ArrayBuffer handed in by JS, plus the address it designates. Throws a
// TypeError if the memory is not one of ours.
struct MappedRange {
  std::shared_ptr<Mapping> mapping;
  uint8_t* address;
  size_t length;
};
MappedRange MappedRangeOf(Napi::Env env, Napi::Value array_buffer, size_t offset, size_t length);

void InitMapping(Napi::Env env, Napi::Object exports);

}  // namespace pmp
