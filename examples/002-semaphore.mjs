// Seed 002 "python---基础知识回顾(十)进程和线程(进程)", section Semaphore信号量: Semaphore(2) shared by 10
// processes — a place frees up as soon as one leaves, so two are always busy.
import { setTimeout as sleep } from 'node:timers/promises';

import { isMainProcess, Process, Semaphore } from 'posix-mp';

// One of the seed's seconds (shortened for the demo).
const SECOND = 50;

export async function f(s, i) {
  await s.acquire();
  console.log('Semaphore acquired');
  await sleep(i * SECOND);
  console.log('hello world', i);
  console.log('Semaphore release');
  s.release();
}

if (isMainProcess()) {
  console.log('start');
  const bg = Date.now();

  const sp = new Semaphore(2);
  const pList = [];

  for (let i = 0; i < 10; i++) {
    const pro = new Process({ target: f, args: [sp, i] });
    pList.push(pro);
    pro.start();
  }

  for (let i = 0; i < 10; i++) await pList[i].join();

  console.log('end');
  console.log((Date.now() - bg) / 1000);
}
