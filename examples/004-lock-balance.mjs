// Seed 004 "python 3.5 进程与线程", section Lock: `balance` changed 100,000 times by each of two workers, each
// change made holding a Lock, so the balance ends at 0. The seed uses threads and a global variable; between
// processes the variable must live in shared memory — a RawValue (a Value without a lock of its own, since
// the Lock guards it) passed in `args` like the Lock.
import { isMainProcess, Lock, Process, RawValue } from 'posix-mp';

function changeIt(balance, n) {
  // Deposit first, then withdraw: the result should be 0
  balance.value = balance.value + n;
  balance.value = balance.value - n;
}

export function runThread(balance, lock, n) {
  for (let i = 0; i < 100000; i++) {
    // Take the lock first
    lock.acquireSync();
    try {
      // Change it safely
      changeIt(balance, n);
    } finally {
      // Always release the lock when done
      lock.release();
    }
  }
}

if (isMainProcess()) {
  const balance = RawValue('i', 0);
  const lock = new Lock();
  const t1 = new Process({ target: runThread, args: [balance, lock, 5] });
  const t2 = new Process({ target: runThread, args: [balance, lock, 8] });
  t1.start();
  t2.start();
  await t1.join();
  await t2.join();
  console.log(balance.value);
}
