// Seed 003 (Process / Lock / Semaphore / Event / Queue notes), section Event: set() lets a child's periodic
// task run, clear() pauses it, set() resumes it, clear() pauses it again. The seed waits on the wall clock
// (until its seconds pass 10, then 30) and its child loops forever, so the program never ends; this port
// uses plain sleeps and ends the child at the end.
import { setTimeout as sleep } from 'node:timers/promises';

import { Event, isMainProcess, Process } from 'posix-mp';

// One of the seed's seconds (shortened for the demo).
const SECOND = 50;

export async function work(e) {
  // The child
  for (;;) {
    await e.wait(); // blocks while the flag is clear
    console.log('[S] this is my scheduled task!', new Date().toISOString().slice(17, 23));
    await sleep(1 * SECOND);
  }
}

async function main() {
  const e = new Event();
  const p = new Process({ target: work, name: 'child', args: [e] });
  p.start();
  await sleep(2 * SECOND);
  console.log('[F] child unblocked');
  e.set(); // the task runs
  await sleep(5 * SECOND);
  console.log('[F] child blocked');
  e.clear(); // the task pauses
  await sleep(5 * SECOND); // rest 5 s
  e.set(); // the task runs again
  console.log('[F] started again');
  await sleep(5 * SECOND); // rest 5 s
  e.clear(); // and pauses again
  console.log('[F] stopped again');

  // Not in the seed, whose child waits forever: end it.
  await sleep(2 * SECOND);
  p.terminate();
  await p.join();
}

if (isMainProcess()) {
  await main();
}
