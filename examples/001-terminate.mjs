// Seed 001 "Python--进程", section 终止进程 (terminating processes): terminate(), then join() so that the
// object learns the outcome.
import { setTimeout as sleep } from 'node:timers/promises';

import { isMainProcess, Process } from 'posix-mp';

// One of the seed's seconds (shortened for the demo).
const SECOND = 50;

export async function slowWorker() {
  console.log('Starting worker');
  await sleep(0.1 * SECOND);
  console.log('Finished worker');
}

if (isMainProcess()) {
  const p = new Process({ target: slowWorker });
  console.log('BEFORE:', p, p.isAlive());

  p.start();
  console.log('DURING:', p, p.isAlive());

  p.terminate();
  // Like Python, it may still be alive a moment after the signal was sent.
  console.log('TERMINATED:', p, p.isAlive());

  await p.join();
  console.log('JOINED:', p, p.isAlive());
}
