// Seed 001 "Python--进程", section 守护进程 (daemon processes), "等待守护进程退出，要加上join" (to wait for a
// daemon to finish, join it): the same program with a join() that waits for the daemon.
import { setTimeout as sleep } from 'node:timers/promises';

import { currentProcess, isMainProcess, Process } from 'posix-mp';

// One of the seed's seconds (shortened for the demo).
const SECOND = 50;

export async function daemon() {
  const name = currentProcess().name;
  console.log('Starting:', name);
  await sleep(2 * SECOND);
  console.log('Exiting :', name);
}

export function nonDaemon() {
  const name = currentProcess().name;
  console.log('Starting:', name);
  console.log('Exiting :', name);
}

if (isMainProcess()) {
  const d = new Process({ name: 'daemon', target: daemon });
  d.daemon = true;

  const n = new Process({ name: 'non-daemon', target: nonDaemon });
  n.daemon = false;

  d.start();
  n.start();

  await d.join();
  console.log('d.is_alive()', d.isAlive());
  await n.join();
}
