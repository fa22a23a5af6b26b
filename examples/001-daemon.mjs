// Seed 001 "Python--进程", section 守护进程 (daemon processes): join(timeout) gives up on the daemon, which is
// still alive — and dies with the main process, so it never prints "Exiting".
import { setTimeout as sleep } from 'node:timers/promises';

import { currentProcess, isMainProcess, Process } from 'posix-mp';

// One of the seed's seconds, shortened less than in most examples: join's timeout must end while the
// daemon is at work, and a new Node process takes 0.1 s to boot (over 1 s on a busy machine).
const SECOND = 500;

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

  // Returns after the timeout with the daemon still at work.
  await d.join(1 * SECOND);
  console.log('d.is_alive()', d.isAlive());
  await n.join();
}
