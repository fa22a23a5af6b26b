// Seed 002 "python---基础知识回顾(十)进程和线程(进程)", section 使用Lock锁 — 未加锁 (without a lock): ten
// processes sleep and print in parallel; the whole takes about one sleep.
import { setTimeout as sleep } from 'node:timers/promises';

import { isMainProcess, Process } from 'posix-mp';

// One of the seed's seconds (shortened for the demo).
const SECOND = 50;

export async function f(i) {
  await sleep(5 * SECOND);
  console.log('hello world', i);
}

if (isMainProcess()) {
  console.log('start');
  const bg = Date.now();

  const pList = [];
  for (let num = 0; num < 10; num++) {
    const pro = new Process({ target: f, args: [num] });
    pList.push(pro);
    pro.start();
  }

  for (let num = 0; num < 10; num++) await pList[num].join();

  console.log('end');
  console.log((Date.now() - bg) / 1000);
}
