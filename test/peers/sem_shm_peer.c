// A plain C program that uses posix-mp objects with nothing but glibc: shm_open + mmap and sem_open. The
// interop tests compile it with gcc and run it next to Node and Python processes on the same objects.
//
//   sem_shm_peer counter SHM SEM GATE N   waits for a token of GATE, then N times: sem_wait(SEM), increments
//                                         the uint64 at offset 0 of SHM (a plain, non-atomic read-modify-
//                                         write: only the semaphore makes it exact), sem_post(SEM).
//                                         Prints "size <bytes of SHM>" first.
//   sem_shm_peer post SEM N               sem_post(SEM) N times.
//   sem_shm_peer wait SEM MS              sem_timedwait(SEM) for up to MS ms; prints "acquired" or "timeout".
//
// Names are given as posix-mp reports them (`x.name`, no leading '/'); like any C program, this one adds the
// '/' that POSIX wants.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void die(const char* what, const char* name) {
  fprintf(stderr, "%s(%s): %s\n", what, name, strerror(errno));
  exit(2);
}

static sem_t* open_sem(const char* name) {
  char path[300];
  snprintf(path, sizeof path, "/%s", name);
  sem_t* sem = sem_open(path, 0);
  if (sem == SEM_FAILED) die("sem_open", path);
  return sem;
}

static void wait_sem(sem_t* sem) {
  while (sem_wait(sem) != 0) {
    if (errno != EINTR) die("sem_wait", "");
  }
}

static int counter(const char* shm_name, const char* sem_name, const char* gate_name, long n) {
  char path[300];
  snprintf(path, sizeof path, "/%s", shm_name);
  int fd = shm_open(path, O_RDWR, 0);
  if (fd < 0) die("shm_open", path);
  struct stat st;
  if (fstat(fd, &st) != 0) die("fstat", path);
  void* memory = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (memory == MAP_FAILED) die("mmap", path);
  close(fd);
  printf("size %lld\n", (long long)st.st_size);
  fflush(stdout);

  sem_t* mutex = open_sem(sem_name);
  sem_t* gate = open_sem(gate_name);
  wait_sem(gate);
  volatile uint64_t* count = (volatile uint64_t*)memory;
  for (long i = 0; i < n; ++i) {
    wait_sem(mutex);
    uint64_t value = *count;
    // Now and then give another process the chance to run inside the critical section, so that a semaphore
    // that failed to exclude it would lose increments.
    if (i % 64 == 0) sched_yield();
    *count = value + 1;
    if (sem_post(mutex) != 0) die("sem_post", sem_name);
  }
  sem_close(gate);
  sem_close(mutex);
  munmap(memory, (size_t)st.st_size);
  return 0;
}

static int post(const char* sem_name, long n) {
  sem_t* sem = open_sem(sem_name);
  for (long i = 0; i < n; ++i) {
    if (sem_post(sem) != 0) die("sem_post", sem_name);
  }
  sem_close(sem);
  return 0;
}

static int timed_wait(const char* sem_name, long ms) {
  sem_t* sem = open_sem(sem_name);
  struct timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += ms / 1000;
  deadline.tv_nsec += (ms % 1000) * 1000000L;
  if (deadline.tv_nsec >= 1000000000L) {
    deadline.tv_sec += 1;
    deadline.tv_nsec -= 1000000000L;
  }
  int rc;
  while ((rc = sem_timedwait(sem, &deadline)) != 0 && errno == EINTR) {
  }
  if (rc != 0 && errno != ETIMEDOUT) die("sem_timedwait", sem_name);
  puts(rc == 0 ? "acquired" : "timeout");
  sem_close(sem);
  return 0;
}

int main(int argc, char** argv) {
  if (argc == 6 && strcmp(argv[1], "counter") == 0) return counter(argv[2], argv[3], argv[4], atol(argv[5]));
  if (argc == 4 && strcmp(argv[1], "post") == 0) return post(argv[2], atol(argv[3]));
  if (argc == 4 && strcmp(argv[1], "wait") == 0) return timed_wait(argv[2], atol(argv[3]));
  fprintf(stderr, "usage: %s counter SHM SEM GATE N | post SEM N | wait SEM MS\n", argv[0]);
  return 64;
}
