/*
 * A C program that shares a posix-mp Queue with Node through native/include/posix_mp.h.
 *   queue_peer NAME put N   puts N byte messages "c-<i>" (Node gets Buffers)
 *   queue_peer NAME get N   takes N messages and prints "<tag> <length> <fnv1a-32 hex>" for each
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "posix_mp.h"

static uint32_t fnv1a(const unsigned char* data, size_t length) {
  uint32_t hash = 2166136261u;
  for (size_t i = 0; i < length; ++i) hash = (hash ^ data[i]) * 16777619u;
  return hash;
}

int main(int argc, char** argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s NAME put|get N\n", argv[0]);
    return 2;
  }
  size_t size;
  void* base = pmp_open(argv[1], PMP_KIND_QUEUE, &size);
  if (base == NULL) {
    perror("pmp_open");
    return 1;
  }
  long n = strtol(argv[3], NULL, 10);
  struct timespec deadline;
  clock_gettime(CLOCK_MONOTONIC, &deadline);
  deadline.tv_sec += 60;
  for (long i = 0; i < n; ++i) {
    if (strcmp(argv[2], "put") == 0) {
      char text[32];
      int length = snprintf(text, sizeof text, "c-%ld", i);
      int error = pmp_queue_put(base, PMP_QUEUE_TAG_BYTES, text, (size_t)length, &deadline);
      if (error != 0) {
        fprintf(stderr, "pmp_queue_put: %s\n", strerror(error));
        return 1;
      }
    } else {
      uint32_t tag;
      void* data;
      size_t length;
      int error = pmp_queue_get(base, &tag, &data, &length, &deadline);
      if (error != 0) {
        fprintf(stderr, "pmp_queue_get: %s\n", strerror(error));
        return 1;
      }
      printf("%u %zu %08x\n", tag, length, fnv1a((const unsigned char*)data, length));
      free(data);
    }
  }
  munmap(base, size);
  return 0;
}
