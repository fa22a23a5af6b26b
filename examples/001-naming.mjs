// Seed 001 "Python--进程", section 确定当前的进程 (naming processes): current_process().name inside the
// child — two given names and one default.
import { setTimeout as sleep } from 'node:timers/promises';

import { currentProcess, isMainProcess, Process } from 'posix-mp';

// One of the seed's seconds (shortened for the demo).
const SECOND = 50;

export async function worker() {
  const name = currentProcess().name;
  console.log(name, 'Starting');
  await sleep(2 * SECOND);
  console.log(name, 'Exiting');
}

export async function myService() {
  const name = currentProcess().name;
  console.log(name, 'Starting');
  await sleep(3 * SECOND);
  console.log(name, 'Exiting');
}

if (isMainProcess()) {
  const service = new Process({ name: 'my_service', target: myService });
  const worker1 = new Process({ name: 'worker 1', target: worker });
  const worker2 = new Process({ target: worker }); // default name

  worker1.start();
  worker2.start();
  service.start();
}
