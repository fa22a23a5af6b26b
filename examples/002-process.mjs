// Seed 002 "python---基础知识回顾(十)进程和线程(进程)", section 四 多进程multiprocessing模块, 简单使用
// (simple use): three processes run f concurrently; join them all.
import { setTimeout as sleep } from 'node:timers/promises';

import { isMainProcess, Process } from 'posix-mp';

// One of the seed's seconds (shortened for the demo).
const SECOND = 50;

export async function f(name) {
  await sleep(1 * SECOND);
  console.log('hello', name, Date.now() / 1000);
}

if (isMainProcess()) {
  const pList = [];
  for (let i = 0; i < 3; i++) {
    const p = new Process({ target: f, args: ['fgawg'] });
    pList.push(p);
    p.start();
  }

  for (const p of pList) await p.join();

  console.log('end');
}
