// Seed 001 "Python--进程", section 进程间信号传递 (signalling between processes): an Event, waited for
// without a timeout ('block') and with one ('nonblock'). Seed 002 has the same program with "start", "end"
// and the elapsed time printed around it.
import { setTimeout as sleep } from 'node:timers/promises';

import { Event, isMainProcess, Process } from 'posix-mp';

// One of the seed's seconds, shortened less than in most examples: the timeout races against the main
// process's sleep, and a new Node process takes 0.1 s to boot (over 1 s on a busy machine, and then the
// child may find the event already set).
const SECOND = 500;

/** Wait for the event to be set before doing anything */
export async function waitForEvent(e) {
  console.log('wait_for_event: starting');
  await e.wait();
  console.log('wait_for_event: e.is_set()->', e.isSet());
}

/** Wait t seconds and then timeout */
export async function waitForEventTimeout(e, t) {
  console.log('wait_for_event_timeout: starting');
  await e.wait({ timeout: t * SECOND });
  console.log('wait_for_event_timeout: e.is_set()->', e.isSet());
}

if (isMainProcess()) {
  const e = new Event();
  const w1 = new Process({ name: 'block', target: waitForEvent, args: [e] });
  w1.start();

  const w2 = new Process({ name: 'nonblock', target: waitForEventTimeout, args: [e, 2] });
  w2.start();

  console.log('main: waiting before calling Event.set()');
  await sleep(3 * SECOND);
  e.set();
  console.log('main: event is set');
}
