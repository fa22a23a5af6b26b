/*
 * A process that holds the lock of a SharedList or SharedDict, for test/managers.test.ts:
 *
 *   container_lock_peer NAME list|dict
 *
 * Takes the container's pmp_lock (the first thing in its payload: docs/api.md's Managers layout), prints
 * "held", and keeps it until its stdin reaches EOF; then releases it, prints "released" and exits 0.
 */
#include <posix_mp.h>

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s NAME list|dict\n", argv[0]);
    return 2;
  }
  size_t size;
  void* base = pmp_open(argv[1], strcmp(argv[2], "list") == 0 ? PMP_KIND_LIST : PMP_KIND_DICT, &size);
  if (base == NULL) {
    fprintf(stderr, "pmp_open: %s\n", strerror(errno));
    return 1;
  }
  pmp_lock* lock = (pmp_lock*)pmp_payload(base);
  pmp_lock_acquire(lock, NULL);
  puts("held");
  fflush(stdout);
  char buffer[64];
  while (read(0, buffer, sizeof buffer) > 0) {
  }
  pmp_lock_release(lock);
  puts("released");
  return 0;
}
