// Seed 002 "python---基础知识回顾(十)进程和线程(进程)", section 注意:在多进程中不支持共享全局变量 (globals are not
// shared): a child runs its module's top-level code again — print(66666) appears once in the main process
// and once in each of the three children — which is why process-starting code needs the guard.
import { isMainProcess, Process } from 'posix-mp';

console.log(66666);

export function func(num, i) {}

if (isMainProcess()) {
  const pList = [];
  const num = 10;

  for (let i = 0; i < 3; i++) {
    const p = new Process({ target: func, args: [num, i] });
    pList.push(p);
    p.start();
  }

  // The seed's loop joins its last `p` three times (a slip); this joins each.
  for (const p of pList) await p.join();
}
