/*
 * posix_mp.h — the byte layout of posix-mp's shared objects, and the lock protocol, for C programs that
 * share Locks, RLocks, Events, Values, Arrays and Queues with Node processes. Header-only; Linux; C99 or C++.
 *
 * A named object NAME is the POSIX shared memory object "/NAME" (shm_open), starting with a pmp_header;
 * its payload follows at PMP_PAYLOAD_OFFSET. Semaphores are different: they are plain POSIX named
 * semaphores (sem_open("/NAME")), and SharedMemory is plain bytes with no header.
 *
 *   kind        payload (offsets from the payload start)
 *   Lock        pmp_lock at 0
 *   RLock       pmp_lock at 0
 *   Event       pmp_event at 0
 *   Condition   pmp_condition at 0
 *   Barrier     pmp_barrier at 0; header.param[0] is the number of parties
 *   Value       pmp_lock at 0 (used when the Value has its own lock), the value at PMP_DATA_OFFSET
 *   Array       pmp_lock at 0, then header.param[1] elements at PMP_DATA_OFFSET
 *   Queue       pmp_queue at 0, then the ring at PMP_QUEUE_RING_OFFSET; header.param[0] is the ring's size
 *               in bytes, param[1] the maxsize (0 = unbounded). Queue, JoinableQueue, SimpleQueue alike.
 *
 * Value/Array: header.param[0] is the typecode character ('b', 'd', ...), param[1] the length (1 for a
 * Value). Element types: b int8, B uint8, h int16, H uint16, i int32, I uint32, l/q int64, L/Q uint64,
 * f float, d double, c char. Native byte order. The data starts 8-byte aligned. Node uses a Value's or
 * Array's own pmp_lock as an RLock (owner_thread/count are its recursion bookkeeping); a C program takes it
 * non-recursively with pmp_lock_acquire/pmp_lock_release, which excludes Node just the same. A Value
 * created with another Lock (or with none) leaves its own pmp_lock unused: use the lock its creator chose.
 * pmp_open() below opens a named object and checks its header.
 *
 * Queue: see pmp_queue below; pmp_queue_put() and pmp_queue_get() exchange byte messages with Node.
 *
 * The addon compiles this same header: the C functions below are the implementation Node uses.
 */
#ifndef POSIX_MP_H
#define POSIX_MP_H

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#if !defined(__USE_XOPEN2K8) || !defined(__USE_MISC)
#error "posix_mp.h needs POSIX.1-2008 and syscall(): compile with -std=gnu11 (the default) or -D_GNU_SOURCE"
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define PMP_MAGIC 0x31504d50u /* "PMP1" in a little-endian word */
#define PMP_VERSION 1u
#define PMP_STATE_READY 1u

enum pmp_kind {
  PMP_KIND_LOCK = 1,
  PMP_KIND_RLOCK = 2,
  PMP_KIND_EVENT = 3,
  PMP_KIND_CONDITION = 4,
  PMP_KIND_BARRIER = 5,
  PMP_KIND_VALUE = 6,
  PMP_KIND_ARRAY = 7,
  PMP_KIND_QUEUE = 8,
  PMP_KIND_LIST = 9,  /* SharedList: layout in docs/api.md, "Managers" (Node-only) */
  PMP_KIND_DICT = 10, /* SharedDict (and a Manager's Namespace): idem */
};

/* The first 32 bytes of every named object (and of every anonymous one, inside its arena block). */
typedef struct pmp_header {
  uint32_t magic;        /* PMP_MAGIC */
  uint32_t kind;         /* enum pmp_kind */
  uint32_t state;        /* 0 while the creator initialises; PMP_STATE_READY after (futex-woken) */
  uint32_t version;      /* PMP_VERSION */
  uint32_t creator_pid;  /* the process that created the object */
  uint32_t payload_size; /* bytes after the header */
  uint32_t param[2];     /* kind-specific parameters (see above) */
} pmp_header;

#define PMP_PAYLOAD_OFFSET 32u
#define PMP_DATA_OFFSET 16u /* Value/Array data, after their pmp_lock */

/*
 * Lock and RLock. `word` is 0 when unlocked; otherwise it identifies the owning *process* as
 * (start_time << 32) | pid, where start_time is the low 32 bits of field 22 of /proc/<pid>/stat (the process
 * start time in clock ticks): a pid alone could be reused by a new process after the owner died. Bit 31
 * (PMP_LOCK_WAITERS) says someone may sleep on the lock. Waiters sleep on the word's low 32 bits with a
 * shared futex and check every PMP_LIVENESS_MS that the owner still lives; a dead owner's lock is taken over
 * by the next acquirer, which is told so (PMP_OWNER_DIED).
 */
typedef struct pmp_lock {
  uint64_t word;
  uint32_t owner_thread; /* RLock: the owning thread of the owner process (Node: threadId + 1) */
  uint32_t count;        /* RLock: recursion depth */
} pmp_lock;

#define PMP_LOCK_WAITERS 0x80000000u
#define PMP_PID_MASK 0x3fffffffu
#define PMP_LIVENESS_MS 50
#define PMP_OWNER_DIED 1 /* pmp_lock_acquire: acquired, but the previous owner died holding the lock */

/* Event: flag is 0 or 1; waiters sleep on it with a shared futex; set() wakes them all. */
typedef struct pmp_event {
  uint32_t flag;
  uint32_t reserved;
} pmp_event;

/*
 * Condition. `state` holds the notifications not yet taken (bits 0-19), the sleepers (bits 20-39) and a
 * broadcast generation (bits 40-63); `epoch` advances with every notify, and sleepers FUTEX_WAIT on it.
 * wait(): holding the lock, add 1 << 20 to state (compare-and-swap) and remember its generation and the
 * epoch; release the lock; then it is notified as soon as the generation differs, or the epoch differs and
 * it takes a notification (compare-and-swap state to state - 1 while bits 0-19 are > 0); else it sleeps on
 * the epoch. On timeout it leaves in one compare-and-swap: notified if the generation differs or (the epoch
 * differing) it takes a notification, else it subtracts 1 << 20. Then it re-acquires the lock.
 * notify(n), holding the lock: move k = min(n, sleepers) to notifications in one compare-and-swap, then (if
 * k > 0) add 1 to the epoch and FUTEX_WAKE k. notify_all: replace state by (generation + 1) << 40, add 1 to
 * the epoch, FUTEX_WAKE all.
 * The lock is `lock` below when lock_kind is 0; otherwise the constructor was given a Lock (PMP_KIND_LOCK)
 * or RLock (PMP_KIND_RLOCK) at offset lock_offset in the payload of the object named lock_name, of kind
 * lock_holder (a Lock, RLock, Value, ...; lock_anonymous = 1 if that object has no system name).
 */
typedef struct pmp_condition {
  pmp_lock lock;
  uint64_t state;
  uint32_t epoch;
  uint32_t lock_kind;
  uint32_t lock_holder;
  uint32_t lock_offset;
  uint32_t lock_anonymous;
  uint32_t lock_name_length;
  char lock_name[256]; /* not NUL-terminated */
} pmp_condition;

/*
 * Barrier: CPython's threading.Barrier on shared fields, guarded by `lock` (a non-recursive Lock) with a
 * Condition whose state and epoch are `cond_state` and `cond_epoch` (the protocol of pmp_condition).
 */
typedef struct pmp_barrier {
  pmp_lock lock;
  uint64_t cond_state;
  uint32_t cond_epoch;
  int32_t state;  /* 0 filling, 1 draining, -1 resetting, -2 broken */
  uint32_t count; /* parties inside wait() */
} pmp_barrier;

/* The futex word of a 64-bit lock word: its low half. */
static inline uint32_t* pmp_lock_futex(pmp_lock* lock) {
  return (uint32_t*)&lock->word + (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? 0 : 1);
}

/*
 * Field 22 (starttime) of /proc/<pid>/stat, low 32 bits; 0 if the process does not exist or has exited. An
 * exited process stays a zombie (state Z) until its parent reaps it, and a parent blocked acquiring a lock
 * its killed child held cannot reap it: a zombie must count as dead, or the two would wait for each other.
 */
static inline uint32_t pmp_process_start_time(pid_t pid) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = '\0';
  /* The command name (field 2) may contain spaces and parentheses: fields resume after the last ')'. */
  char* p = strrchr(buf, ')');
  if (p == NULL) return 0;
  if (p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X')) return 0; /* field 3, the state: zombie or dead */
  for (int field = 2; field < 22 && p != NULL; ++field) p = strchr(p + 1, ' ');
  return p == NULL ? 0 : (uint32_t)strtoull(p + 1, NULL, 10);
}

/* This process's lock token. */
static inline uint64_t pmp_self_token(void) {
  static uint64_t token;
  static pid_t token_pid;
  pid_t pid = getpid();
  if (token == 0 || token_pid != pid) {
    token = ((uint64_t)pmp_process_start_time(pid) << 32) | (uint32_t)pid;
    token_pid = pid;
  }
  return token;
}

/* Whether the process a lock word names is still the process that took the lock. */
static inline int pmp_owner_alive(uint64_t word) {
  pid_t pid = (pid_t)(word & PMP_PID_MASK);
  if (kill(pid, 0) != 0 && errno == ESRCH) return 0;
  return pmp_process_start_time(pid) == (uint32_t)(word >> 32);
}

/* Sleeps while *word == expected, until `until` (absolute CLOCK_MONOTONIC). Returns 0, or ECANCELED to stop
 * waiting. The default sleeps on a shared futex; the Node addon passes one that can also be cancelled. */
typedef int (*pmp_sleep_fn)(const uint32_t* word, uint32_t expected, const struct timespec* until, void* ctx);

static inline int pmp_futex_sleep(const uint32_t* word, uint32_t expected, const struct timespec* until, void* ctx) {
  (void)ctx;
  syscall(SYS_futex, word, FUTEX_WAIT_BITSET, expected, until, NULL, FUTEX_BITSET_MATCH_ANY);
  return 0;
}

/* How many times pmp_lock_acquire polls the word before it sleeps (each poll a CPU pause: a few µs in all). */
#define PMP_SPIN_LIMIT 100

static inline void pmp_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

static inline int pmp_timespec_before(const struct timespec* a, const struct timespec* b) {
  return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* Tries once to take the lock: 0 (taken), PMP_OWNER_DIED (taken from a dead owner) or EBUSY. */
static inline int pmp_lock_try(pmp_lock* lock, uint64_t token) {
  uint64_t expected = 0;
  if (__atomic_compare_exchange_n(&lock->word, &expected, token, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) return 0;
  if (!pmp_owner_alive(expected) &&
      __atomic_compare_exchange_n(&lock->word, &expected, token | (expected & PMP_LOCK_WAITERS), 0,
                                  __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
    return PMP_OWNER_DIED;
  }
  return EBUSY;
}

/*
 * Takes the lock for the process `token` (pmp_self_token()), waiting until `deadline` (absolute
 * CLOCK_MONOTONIC; NULL = forever). Returns 0, PMP_OWNER_DIED, ETIMEDOUT, or ECANCELED (from `sleep`).
 */
static inline int pmp_lock_acquire_with(pmp_lock* lock, uint64_t token, const struct timespec* deadline,
                                        pmp_sleep_fn sleep, void* ctx) {
  uint64_t word = 0;
  if (__atomic_compare_exchange_n(&lock->word, &word, token, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) return 0;
  /* Spin a little before sleeping: a lock held for a short critical section by a process running on another
   * CPU is usually free within microseconds, and taking it here, without the waiters bit, keeps this acquire
   * and the next release free of futex syscalls. Pointless with one CPU. */
  static long cpus;
  if (cpus == 0) cpus = sysconf(_SC_NPROCESSORS_ONLN);
  for (int spin = 0; cpus > 1 && spin < PMP_SPIN_LIMIT; ++spin) {
    pmp_cpu_relax();
    word = __atomic_load_n(&lock->word, __ATOMIC_RELAXED);
    if (word == 0 &&
        __atomic_compare_exchange_n(&lock->word, &word, token, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
      return 0;
    }
  }
  for (;;) {
    if (word == 0) {
      /* Taken by the slow path: others may sleep, so keep the waiters bit (one spurious wake at worst). */
      if (__atomic_compare_exchange_n(&lock->word, &word, token | PMP_LOCK_WAITERS, 0, __ATOMIC_ACQUIRE,
                                      __ATOMIC_RELAXED)) {
        return 0;
      }
      continue;
    }
    if (!(word & PMP_LOCK_WAITERS)) {
      if (!__atomic_compare_exchange_n(&lock->word, &word, word | PMP_LOCK_WAITERS, 0, __ATOMIC_RELAXED,
                                       __ATOMIC_RELAXED)) {
        continue;
      }
      word |= PMP_LOCK_WAITERS;
    }
    struct timespec now, until;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (deadline != NULL && !pmp_timespec_before(&now, deadline)) return ETIMEDOUT;
    until = now;
    until.tv_nsec += PMP_LIVENESS_MS * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
      until.tv_sec += 1;
      until.tv_nsec -= 1000000000L;
    }
    if (deadline != NULL && pmp_timespec_before(deadline, &until)) until = *deadline;
    if (sleep(pmp_lock_futex(lock), (uint32_t)word, &until, ctx) == ECANCELED) return ECANCELED;
    word = __atomic_load_n(&lock->word, __ATOMIC_RELAXED);
    if (word != 0 && !pmp_owner_alive(word)) {
      if (__atomic_compare_exchange_n(&lock->word, &word, token | PMP_LOCK_WAITERS, 0, __ATOMIC_ACQUIRE,
                                      __ATOMIC_RELAXED)) {
        return PMP_OWNER_DIED;
      }
    }
  }
}

static inline int pmp_lock_acquire(pmp_lock* lock, const struct timespec* deadline) {
  return pmp_lock_acquire_with(lock, pmp_self_token(), deadline, pmp_futex_sleep, NULL);
}

/* Releases the lock, whoever holds it (as Python's Lock allows). Returns 0, or EPERM if it was unlocked. */
static inline int pmp_lock_release(pmp_lock* lock) {
  uint64_t word = __atomic_load_n(&lock->word, __ATOMIC_RELAXED);
  do {
    if (word == 0) return EPERM;
  } while (!__atomic_compare_exchange_n(&lock->word, &word, 0, 1, __ATOMIC_RELEASE, __ATOMIC_RELAXED));
  if (word & PMP_LOCK_WAITERS) syscall(SYS_futex, pmp_lock_futex(lock), FUTEX_WAKE, 1, NULL, NULL, 0);
  return 0;
}

/* Event: sets the flag and wakes every waiter, in any process. */
static inline void pmp_event_set(pmp_event* event) {
  if (__atomic_exchange_n(&event->flag, 1u, __ATOMIC_SEQ_CST) == 0) {
    syscall(SYS_futex, &event->flag, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
  }
}

static inline void pmp_event_clear(pmp_event* event) { __atomic_store_n(&event->flag, 0u, __ATOMIC_SEQ_CST); }

static inline int pmp_event_is_set(const pmp_event* event) { return __atomic_load_n(&event->flag, __ATOMIC_SEQ_CST) != 0; }

/* Waits until the event is set (returns 1) or `deadline` (absolute CLOCK_MONOTONIC; NULL = forever) passes (0). */
static inline int pmp_event_wait(pmp_event* event, const struct timespec* deadline) {
  while (!pmp_event_is_set(event)) {
    if (deadline != NULL) {
      struct timespec now;
      clock_gettime(CLOCK_MONOTONIC, &now);
      if (!pmp_timespec_before(&now, deadline)) return 0;
    }
    syscall(SYS_futex, &event->flag, FUTEX_WAIT_BITSET, 0u, deadline, NULL, FUTEX_BITSET_MATCH_ANY);
  }
  return 1;
}

/* The pmp_lock and data of a Value or Array whose header starts at `base`. */
static inline pmp_lock* pmp_value_lock(void* base) { return (pmp_lock*)((char*)base + PMP_PAYLOAD_OFFSET); }
static inline void* pmp_value_data(void* base) { return (char*)base + PMP_PAYLOAD_OFFSET + PMP_DATA_OFFSET; }

/* The payload of the object whose header starts at `base` (a Lock's or RLock's pmp_lock, an Event's pmp_event). */
static inline void* pmp_payload(void* base) { return (char*)base + PMP_PAYLOAD_OFFSET; }

/*
 * Queue. A ring of frames after a 128-byte control block. Producers serialise on put_lock, consumers on
 * get_lock. `write` and `read` are positions: low 32 bits = ring offset of the next frame (a multiple of 8)
 * | PMP_QUEUE_STREAM, high 32 bits = messages completed (mod 2^32). Only the put_lock holder stores `write`,
 * only the get_lock holder stores `read`, each with ONE atomic store per frame: that store is the commit (a
 * process killed before it changed nothing visible). qsize = write.high - read.high; a JoinableQueue's
 * unfinished tasks = write.high - tasks_done.
 *
 * Frame: uint32 length, uint32 flags | tag << 8, then `length` bytes, padded to 8; a frame may wrap around the
 * ring's end (the header never straddles it). The ring never fills completely: a frame fits if its padded
 * size is at most capacity - 8 - used, used = (write offset - read offset) mod capacity. A message of at most
 * capacity / 2 - 8 bytes is one frame (FIRST | LAST); a larger one is streamed: FIRST, middle frames, LAST,
 * each of at most capacity / 2 - 8 bytes, the writer holding put_lock (and keeping PMP_QUEUE_STREAM set in
 * `write` between them), the reader holding get_lock (PMP_QUEUE_STREAM set in `read`). The message count
 * moves with LAST frames only. Repairs: whoever takes put_lock and finds PMP_QUEUE_STREAM in `write` appends
 * an ABORT frame (length 0), which readers take as the end of a message that is dropped; whoever takes
 * get_lock and finds it in `read` (a reader died mid-message) discards frames through the next LAST or ABORT.
 * A reader waiting mid-message checks the writer lives by trying put_lock (pmp_lock_try; if it gets the lock,
 * the writer is gone: it appends the ABORT itself).
 *
 * Waiting: getters sleep on the low half of `write`, putters on the low half of `read` (each commit changes
 * it), joiners on tasks_done, after incrementing the matching *_waiting counter and re-reading the word; a
 * commit wakes all sleepers of its word if the counter is non-zero. Sleeps last at most PMP_QUEUE_SLICE_MS.
 * Tags: 1 = V8-serialized value, 2 = raw bytes (a Node Buffer), 3 = V8-serialized value with what Node's
 * reduction step took out of it (named shared objects, functions and classes by module and name: Node only),
 * 4 = a number (float64, native byte order), 5 = a string (UTF-8), 6 = a uint32 token and then as 3, the
 * item's descriptors being on the anonymous queue's socket pair (Node only: see lib/comm/queue_channel.ts),
 * 7 = plain data (objects, arrays, strings, numbers...) in a compact format of Node's (see lib/comm/plain_codec.ts).
 */
typedef struct pmp_queue {
  pmp_lock put_lock;
  uint64_t write;
  uint32_t putters_waiting;
  uint32_t passed; /* the token of the last descriptor datagram (PMP_QUEUE_TAG_PASSED), stored under put_lock */
  uint32_t reserved0[8];
  pmp_lock get_lock; /* offset 64: the consumers' cache line */
  uint64_t read;
  uint32_t getters_waiting;
  uint32_t tasks_done;
  uint32_t joiners_waiting;
  uint32_t reserved1[7];
} pmp_queue;

typedef char pmp_queue_layout_check[sizeof(pmp_queue) == 128 ? 1 : -1];

#define PMP_QUEUE_RING_OFFSET 128u
#define PMP_QUEUE_FRAME_HEADER 8u
#define PMP_QUEUE_STREAM 1u
#define PMP_QUEUE_FIRST 1u
#define PMP_QUEUE_LAST 2u
#define PMP_QUEUE_ABORT 4u
#define PMP_QUEUE_TAG_VALUE 1u
#define PMP_QUEUE_TAG_BYTES 2u
#define PMP_QUEUE_TAG_REDUCED 3u
#define PMP_QUEUE_TAG_NUMBER 4u
#define PMP_QUEUE_TAG_STRING 5u
#define PMP_QUEUE_TAG_PASSED 6u
#define PMP_QUEUE_TAG_PLAIN 7u
#define PMP_QUEUE_SLICE_MS 1000
#define PMP_QUEUE_LIVENESS_MS 50

/* A queue whose header starts at `base` (from pmp_open(name, PMP_KIND_QUEUE, &size)). */
typedef struct pmp_queue_ref {
  pmp_queue* q;
  unsigned char* ring;
  uint32_t capacity;
  uint32_t maxsize;
} pmp_queue_ref;

static inline pmp_queue_ref pmp_queue_at(void* base) {
  pmp_header* header = (pmp_header*)base;
  pmp_queue_ref ref;
  ref.q = (pmp_queue*)pmp_payload(base);
  ref.ring = (unsigned char*)pmp_payload(base) + PMP_QUEUE_RING_OFFSET;
  ref.capacity = header->param[0];
  ref.maxsize = header->param[1];
  return ref;
}

/* The low half of a position word (the futex word). */
static inline uint32_t* pmp_queue_low(uint64_t* position) {
  return (uint32_t*)position + (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? 0 : 1);
}

static inline uint32_t pmp_queue_pad8(uint32_t n) { return (n + 7u) & ~7u; }

/* Messages in the queue. */
static inline uint32_t pmp_queue_size(const pmp_queue_ref* ref) {
  uint64_t w = __atomic_load_n(&ref->q->write, __ATOMIC_SEQ_CST);
  uint64_t r = __atomic_load_n(&ref->q->read, __ATOMIC_SEQ_CST);
  return (uint32_t)(w >> 32) - (uint32_t)(r >> 32);
}

/* Sleeps on *word while it equals `seen`, at most PMP_QUEUE_SLICE_MS and until `deadline` (NULL = none). */
static inline void pmp_queue_sleep(uint32_t* word, uint32_t seen, uint32_t* waiting, const struct timespec* deadline) {
  struct timespec now, until;
  clock_gettime(CLOCK_MONOTONIC, &now);
  until = now;
  until.tv_sec += PMP_QUEUE_SLICE_MS / 1000;
  if (deadline != NULL && pmp_timespec_before(deadline, &until)) until = *deadline;
  __atomic_add_fetch(waiting, 1u, __ATOMIC_SEQ_CST);
  if (__atomic_load_n(word, __ATOMIC_SEQ_CST) == seen) {
    syscall(SYS_futex, word, FUTEX_WAIT_BITSET, seen, &until, NULL, FUTEX_BITSET_MATCH_ANY);
  }
  __atomic_sub_fetch(waiting, 1u, __ATOMIC_SEQ_CST);
}

static inline int pmp_queue_expired(const struct timespec* deadline) {
  struct timespec now;
  if (deadline == NULL) return 0;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return !pmp_timespec_before(&now, deadline);
}

static inline void pmp_queue_wake(uint64_t* position, uint32_t* waiting) {
  if (__atomic_load_n(waiting, __ATOMIC_SEQ_CST) > 0) {
    syscall(SYS_futex, pmp_queue_low(position), FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
  }
}

/* Holding put_lock: appends a frame (the caller checked the room) and commits it. */
static inline void pmp_queue_write_frame(pmp_queue_ref* ref, uint32_t flags, uint32_t tag, const void* data, uint32_t length) {
  uint64_t w = ref->q->write;
  uint32_t at = (uint32_t)w & ~PMP_QUEUE_STREAM;
  uint32_t header[2] = {length, flags | (tag << 8)};
  memcpy(ref->ring + at, header, sizeof header);
  uint32_t start = (at + PMP_QUEUE_FRAME_HEADER) % ref->capacity;
  uint32_t first = length < ref->capacity - start ? length : ref->capacity - start;
  if (length > 0) memcpy(ref->ring + start, data, first);
  if (first < length) memcpy(ref->ring, (const unsigned char*)data + first, length - first);
  uint32_t next = (at + PMP_QUEUE_FRAME_HEADER + pmp_queue_pad8(length)) % ref->capacity;
  uint32_t count = (uint32_t)(w >> 32) + ((flags & PMP_QUEUE_LAST) ? 1u : 0u);
  uint32_t open = (flags & (PMP_QUEUE_LAST | PMP_QUEUE_ABORT)) ? 0u : PMP_QUEUE_STREAM;
  __atomic_store_n(&ref->q->write, ((uint64_t)count << 32) | next | open, __ATOMIC_SEQ_CST);
  pmp_queue_wake(&ref->q->write, &ref->q->getters_waiting);
}

/* Holding put_lock: closes a message whose writer died mid-stream. */
static inline void pmp_queue_repair_writer(pmp_queue_ref* ref) {
  if ((uint32_t)ref->q->write & PMP_QUEUE_STREAM) pmp_queue_write_frame(ref, PMP_QUEUE_ABORT, 0, NULL, 0);
}

/*
 * Puts one message of `length` bytes with type `tag` (PMP_QUEUE_TAG_BYTES: Node gets a Buffer), waiting while
 * the queue is full until `deadline` (absolute CLOCK_MONOTONIC; NULL = forever). Returns 0, ETIMEDOUT, or
 * EMSGSIZE if the message needs streaming (more than capacity / 2 - 8 bytes: this C helper sends one frame).
 */
static inline int pmp_queue_put(void* base, uint32_t tag, const void* data, size_t length, const struct timespec* deadline) {
  pmp_queue_ref ref = pmp_queue_at(base);
  if (length > ref.capacity / 2 - PMP_QUEUE_FRAME_HEADER) return EMSGSIZE;
  for (;;) {
    int taken = pmp_lock_acquire(&ref.q->put_lock, deadline);
    if (taken == ETIMEDOUT) return ETIMEDOUT;
    pmp_queue_repair_writer(&ref);
    uint32_t* word = pmp_queue_low(&ref.q->read);
    uint32_t seen = __atomic_load_n(word, __ATOMIC_SEQ_CST);
    uint64_t r = __atomic_load_n(&ref.q->read, __ATOMIC_SEQ_CST);
    uint64_t w = ref.q->write;
    uint32_t used = ((uint32_t)w - ((uint32_t)r & ~PMP_QUEUE_STREAM) + ref.capacity) % ref.capacity;
    int room = PMP_QUEUE_FRAME_HEADER + pmp_queue_pad8((uint32_t)length) <= ref.capacity - 8 - used &&
               (ref.maxsize == 0 || (uint32_t)(w >> 32) - (uint32_t)(r >> 32) < ref.maxsize);
    if (room) pmp_queue_write_frame(&ref, PMP_QUEUE_FIRST | PMP_QUEUE_LAST, tag, data, (uint32_t)length);
    pmp_lock_release(&ref.q->put_lock);
    if (room) return 0;
    if (pmp_queue_expired(deadline)) return ETIMEDOUT;
    pmp_queue_sleep(word, seen, &ref.q->putters_waiting, deadline);
  }
}

/* Holding get_lock: commits the read of a frame ending at `next`. */
static inline void pmp_queue_commit_read(pmp_queue_ref* ref, uint32_t next, uint32_t done, int open) {
  uint64_t r = ref->q->read;
  uint32_t count = (uint32_t)(r >> 32) + done;
  __atomic_store_n(&ref->q->read, ((uint64_t)count << 32) | next | (open ? PMP_QUEUE_STREAM : 0u), __ATOMIC_SEQ_CST);
  pmp_queue_wake(&ref->q->read, &ref->q->putters_waiting);
}

/*
 * Takes the next message, waiting while the queue is empty until `deadline` (NULL = forever). On success
 * returns 0 with *data a malloc'd copy (free it), *length and *tag (PMP_QUEUE_TAG_*); else ETIMEDOUT or
 * ENOMEM. Streamed messages are reassembled; once their first part is taken, the rest is waited for.
 */
static inline int pmp_queue_get(void* base, uint32_t* tag, void** data, size_t* length, const struct timespec* deadline) {
  pmp_queue_ref ref = pmp_queue_at(base);
  unsigned char* message = NULL;
  size_t size = 0;
  int reading = 0, discarding = 0, error = 0;
  *tag = 0;
  for (;;) {
    if (pmp_lock_acquire(&ref.q->get_lock, deadline) == ETIMEDOUT) return ETIMEDOUT;
    if ((uint32_t)ref.q->read & PMP_QUEUE_STREAM) discarding = 1;
    uint32_t* word = pmp_queue_low(&ref.q->write);
    for (;;) {
      uint32_t seen = __atomic_load_n(word, __ATOMIC_SEQ_CST);
      uint32_t at = (uint32_t)ref.q->read & ~PMP_QUEUE_STREAM;
      if (at == (seen & ~PMP_QUEUE_STREAM)) {
        if (!reading && !discarding) {
          pmp_lock_release(&ref.q->get_lock);
          if (pmp_queue_expired(deadline)) return ETIMEDOUT;
          pmp_queue_sleep(word, seen, &ref.q->getters_waiting, deadline);
          break;
        }
        /* Mid-message: wait for the writer's next part, unless the writer is gone. */
        int writer = pmp_lock_try(&ref.q->put_lock, pmp_self_token());
        if (writer != EBUSY) {
          pmp_queue_repair_writer(&ref);
          pmp_lock_release(&ref.q->put_lock);
          continue;
        }
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += PMP_QUEUE_LIVENESS_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
          until.tv_sec += 1;
          until.tv_nsec -= 1000000000L;
        }
        pmp_queue_sleep(word, seen, &ref.q->getters_waiting, &until);
        continue;
      }
      uint32_t header[2];
      memcpy(header, ref.ring + at, sizeof header);
      uint32_t flags = header[1] & 0xffu;
      uint32_t start = (at + PMP_QUEUE_FRAME_HEADER) % ref.capacity;
      uint32_t next = (at + PMP_QUEUE_FRAME_HEADER + pmp_queue_pad8(header[0])) % ref.capacity;
      if (flags & PMP_QUEUE_ABORT) {
        reading = discarding = 0;
        size = 0;
        pmp_queue_commit_read(&ref, next, 0, 0);
        continue;
      }
      if (discarding || (!reading && !(flags & PMP_QUEUE_FIRST))) {
        discarding = !(flags & PMP_QUEUE_LAST);
        pmp_queue_commit_read(&ref, next, (flags & PMP_QUEUE_LAST) ? 1u : 0u, discarding);
        continue;
      }
      if (flags & PMP_QUEUE_FIRST) {
        reading = 1;
        size = 0;
        *tag = header[1] >> 8;
      }
      unsigned char* grown = (unsigned char*)realloc(message, size + header[0] + 1);
      if (grown == NULL) {
        error = ENOMEM; /* the message is dropped: the rest of it is discarded by the next reader */
      } else {
        message = grown;
        uint32_t first = header[0] < ref.capacity - start ? header[0] : ref.capacity - start;
        memcpy(message + size, ref.ring + start, first);
        memcpy(message + size + first, ref.ring, header[0] - first);
        size += header[0];
      }
      int last = (flags & PMP_QUEUE_LAST) != 0;
      pmp_queue_commit_read(&ref, next, last ? 1u : 0u, !last && error == 0);
      if (last || error != 0) {
        pmp_lock_release(&ref.q->get_lock);
        if (error != 0) {
          free(message);
          return error;
        }
        *data = message;
        *length = size;
        return 0;
      }
    }
  }
}

/* pmp_open's work on the descriptor: waits for the creator, maps, checks the header. */
static inline void* pmp_map_object(int fd, uint32_t kind, size_t* size) {
  /* A creator runs shm_open, then ftruncate, then initialises the header and publishes PMP_STATE_READY. */
  struct stat st;
  for (int tries = 0;; ++tries) {
    if (fstat(fd, &st) != 0) return NULL;
    if ((size_t)st.st_size >= sizeof(pmp_header)) break;
    if (tries == 5000) {
      errno = ETIMEDOUT;
      return NULL;
    }
    usleep(1000);
  }
  void* base = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) return NULL;
  pmp_header* header = (pmp_header*)base;
  const struct timespec step = {0, 1000000L};
  int error = 0;
  for (int tries = 0; __atomic_load_n(&header->state, __ATOMIC_ACQUIRE) != PMP_STATE_READY; ++tries) {
    if (tries == 5000) {
      error = ETIMEDOUT;
      break;
    }
    syscall(SYS_futex, &header->state, FUTEX_WAIT, 0, &step, NULL, 0);
  }
  if (error == 0 && (header->magic != PMP_MAGIC || header->version != PMP_VERSION || header->kind != kind ||
                     (size_t)st.st_size < PMP_PAYLOAD_OFFSET + (size_t)header->payload_size)) {
    error = EPROTO;
  }
  if (error != 0) {
    munmap(base, (size_t)st.st_size);
    errno = error;
    return NULL;
  }
  *size = (size_t)st.st_size;
  return base;
}

/*
 * Opens the named object NAME ("NAME" or "/NAME") of kind `kind` and maps it read-write. Returns the address
 * of its pmp_header and stores the mapping's size in *size (unmap with munmap(base, *size)); on failure
 * returns NULL with errno set: ENOENT (no such object), EPROTO (not a posix-mp object of that kind),
 * ETIMEDOUT (its creator did not finish initialising it within 5 s), or shm_open's and mmap's errors.
 */
static inline void* pmp_open(const char* name, uint32_t kind, size_t* size) {
  char path[NAME_MAX + 2];
  if (snprintf(path, sizeof path, "%s%s", name[0] == '/' ? "" : "/", name) >= (int)sizeof path) {
    errno = ENAMETOOLONG;
    return NULL;
  }
  int fd = shm_open(path, O_RDWR, 0);
  if (fd < 0) return NULL;
  void* base = pmp_map_object(fd, kind, size);
  int saved = errno;
  close(fd);
  errno = saved;
  return base;
}

#ifdef __cplusplus
}
#endif

#endif /* POSIX_MP_H */
