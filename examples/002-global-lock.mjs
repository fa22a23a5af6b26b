// Seed 002 "python---基础知识回顾(十)进程和线程(进程)", section 使用全局变量保存锁,导致失败 (a lock in a global
// fails): every child runs the module again and so creates a Lock of its own — ten locks, no exclusion,
// and the ten sleeps overlap. Create the lock under the guard and pass it in `args` (002-lock.mjs).
import { setTimeout as sleep } from 'node:timers/promises';

import { isMainProcess, Lock, Process } from 'posix-mp';

// One of the seed's seconds (shortened for the demo).
const SECOND = 50;

const lock = new Lock();

export async function f(i) {
  await lock.acquire();
  try {
    await sleep(5 * SECOND);
    console.log('hello world', i);
  } finally {
    lock.release();
  }
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
