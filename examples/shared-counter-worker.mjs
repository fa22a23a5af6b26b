// One worker of shared-counter.mjs: `node shared-counter-worker.mjs SHM SEM LABEL COUNT MODE` opens its
// shared memory and semaphore by name and adds 1 to the shared counter COUNT times, each time holding the
// semaphore — with withLockSync() (MODE "sync", like Python's `with sem:`) or `await withLock()` (MODE
// "async", which waits without blocking the event loop). It reports what it did as one JSON line on stdout.
import { Semaphore, SharedMemory } from 'posix-mp';

const [shmName, semName, label, countArg, mode] = process.argv.slice(2);
const count = Number(countArg);

const shm = SharedMemory.open(shmName);
const sem = Semaphore.open(semName);
try {
  const counter = new Int32Array(shm.buf.buffer, shm.buf.byteOffset, 1);
  // A deliberately non-atomic read-modify-write: only the semaphore keeps the two workers from losing updates.
  const increment = () => {
    const seen = counter[0];
    counter[0] = seen + 1;
    return seen;
  };
  console.log('ready');

  const started = performance.now();
  let first = -1;
  let last = -1;
  for (let i = 0; i < count; i++) {
    last = mode === 'async' ? await sem.withLock(increment) : sem.withLockSync(increment);
    if (i === 0) first = last;
  }
  const ms = performance.now() - started;
  console.log(JSON.stringify({ label, pid: process.pid, mode, count, first, last, ms }));
} finally {
  shm.close();
  sem.close();
}
