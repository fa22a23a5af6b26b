/*
 * A C process sharing a Value with Node processes, for test/c_interop.test.ts:
 *
 *   lock_value_peer VALUE LOCK GATE ITERATIONS PARTIES
 *
 * VALUE is a named Value('q'). LOCK is a named Lock guarding it, or "-" for the Value's own lock (the one
 * Node uses as an RLock). GATE is a named RawArray('i', 1) start gate: every party adds 1 and waits until all
 * PARTIES have, so the increments really run concurrently. Then ITERATIONS times: lock, value += 1, unlock.
 * Prints "done" and exits 0, or prints the failure and exits 1.
 */
#include <posix_mp.h>

static int fail(const char* what) {
  fprintf(stderr, "%s: %s\n", what, strerror(errno));
  return 1;
}

int main(int argc, char** argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: %s VALUE LOCK|- GATE ITERATIONS PARTIES\n", argv[0]);
    return 2;
  }
  long iterations = strtol(argv[4], NULL, 10);
  int32_t parties = (int32_t)strtol(argv[5], NULL, 10);

  size_t value_size, gate_size, lock_size = 0;
  void* value = pmp_open(argv[1], PMP_KIND_VALUE, &value_size);
  if (value == NULL) return fail("pmp_open(value)");
  pmp_header* header = (pmp_header*)value;
  if (header->param[0] != 'q' || header->param[1] != 1) {
    fprintf(stderr, "not a Value('q'): typecode %c, length %u\n", (char)header->param[0], header->param[1]);
    return 1;
  }
  int64_t* data = (int64_t*)pmp_value_data(value);

  pmp_lock* lock;
  void* lock_object = NULL;
  if (strcmp(argv[2], "-") == 0) {
    lock = pmp_value_lock(value);
  } else {
    lock_object = pmp_open(argv[2], PMP_KIND_LOCK, &lock_size);
    if (lock_object == NULL) return fail("pmp_open(lock)");
    lock = (pmp_lock*)pmp_payload(lock_object);
  }

  void* gate = pmp_open(argv[3], PMP_KIND_ARRAY, &gate_size);
  if (gate == NULL) return fail("pmp_open(gate)");
  int32_t* ready = (int32_t*)pmp_value_data(gate);
  __atomic_add_fetch(ready, 1, __ATOMIC_SEQ_CST);
  while (__atomic_load_n(ready, __ATOMIC_SEQ_CST) < parties) usleep(1000);

  for (long i = 0; i < iterations; ++i) {
    int status = pmp_lock_acquire(lock, NULL);
    if (status != 0) {
      fprintf(stderr, "pmp_lock_acquire: %d\n", status);
      return 1;
    }
    *data += 1;
    if (pmp_lock_release(lock) != 0) {
      fprintf(stderr, "pmp_lock_release: the lock was not held\n");
      return 1;
    }
  }

  munmap(gate, gate_size);
  if (lock_object != NULL) munmap(lock_object, lock_size);
  munmap(value, value_size);
  printf("done\n");
  return 0;
}
