// Seed 002 "python---基础知识回顾(十)进程和线程(进程)", section 使用Lock锁 — 加锁 (with a lock): the same ten
// processes take turns holding a Lock (whoever grabs it first goes first); the whole takes ten sleeps.
import { setTimeout as sleep } from 'node:timers/promises';

import { isMainProcess, Lock, Process } from 'posix-mp';

// One of the seed's seconds (shortened for the demo).
const SECOND = 50;

export async function f(l, i) {
  await l.acquire();
  try {
    await sleep(5 * SECOND);
    console.log('hello world', i);
  } finally {
    l.release();
  }
}

if (isMainProcess()) {
  console.log('start');
  const bg = Date.now();

  const lock = new Lock();

  const pList = [];
  for (let num = 0; num < 10; num++) {
    const pro = new Process({ target: f, args: [lock, num] });
    pList.push(pro);
    pro.start();
  }

  for (let num = 0; num < 10; num++) await pList[num].join();

  console.log('end');
  console.log((Date.now() - bg) / 1000);
}
