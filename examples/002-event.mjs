// Seed 002 "python---基础知识回顾(十)进程和线程(进程)", section Event, 事件通信 (event communication): five
// processes wait for an Event without a timeout, five with timeouts of 0–4 s; the main process sets it
// after 3 s, and every waiter still waiting wakes.
import { setTimeout as sleep } from 'node:timers/promises';

import { Event, isMainProcess, Process } from 'posix-mp';

// One of the seed's seconds, shortened less than in most examples: the timeouts race against the main
// process's sleep, and a new Node process takes 0.1 s to boot (over 1 s on a busy machine, and then more
// children find the event already set).
const SECOND = 500;

export async function waitForEvent(e) {
  console.log('wait_for_event:starting');
  await e.wait();
  console.log('wait_for_event:e.is_set()->' + e.isSet());
}

export async function waitForEventTimeout(e, t) {
  console.log('wait_for_event_timeout:starting');
  await e.wait({ timeout: t * SECOND });
  console.log('wait_for_event_timeout:e.is_set->' + e.isSet());
}

if (isMainProcess()) {
  console.log('start');
  const bg = Date.now();

  const e = new Event();
  const pList = [];

  for (let i = 0; i < 5; i++) pList.push(new Process({ target: waitForEvent, args: [e] }));
  for (let i = 0; i < 5; i++) pList.push(new Process({ target: waitForEventTimeout, args: [e, i] }));
  for (let i = 0; i < 10; i++) pList[i].start();

  await sleep(3 * SECOND);
  e.set();

  for (let i = 0; i < 10; i++) await pList[i].join();

  console.log('end');
  console.log((Date.now() - bg) / 1000);
}
