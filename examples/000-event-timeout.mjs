// Seed 000 "Python 进程及同步", section Event: a child waits for an Event with a timeout (2 s); the main
// process sets it only after 3 s, so the child gives up first and sees the flag still clear.
import { setTimeout as sleep } from 'node:timers/promises';

import { Event, isMainProcess, Process } from 'posix-mp';

// One of the seed's seconds, shortened less than in most examples: the timeout races against the main
// process's sleep, and a new Node process takes 0.1 s to boot (over 1 s on a busy machine, and then the
// child may find the event already set).
const SECOND = 500;

export async function waitForEventTimeout(e, t) {
  console.log('wait_for_event_timeout:starting');
  await e.wait({ timeout: t * SECOND }); // or e.wait()
  console.log('wait_for_event_timeout:e.is_set->' + e.isSet());
}

if (isMainProcess()) {
  const e = new Event();
  const w2 = new Process({ name: 'non-block', target: waitForEventTimeout, args: [e, 2] });
  w2.start();
  await sleep(3 * SECOND);
  e.set();
  console.log('main: event is set');
}
