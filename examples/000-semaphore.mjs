// Seed 000 "Python 进程及同步", section Semaphore: Semaphore(2) shared by 5 processes — at most two hold it
// at a time. The same program is in seed 003.
import { setTimeout as sleep } from 'node:timers/promises';

import { currentProcess, isMainProcess, Process, Semaphore } from 'posix-mp';

// One of the seed's seconds (shortened for the demo).
const SECOND = 50;

export async function worker(s, i) {
  await s.acquire();
  console.log(currentProcess().name + 'acquire');
  await sleep(i * SECOND);
  console.log(currentProcess().name + 'release\n');
  s.release();
}

if (isMainProcess()) {
  const s = new Semaphore(2);
  for (let i = 0; i < 5; i++) {
    const p = new Process({ target: worker, args: [s, i * 2] });
    p.start();
  }
}
