// Seed 002 "python---基础知识回顾(十)进程和线程(进程)", section Manager实现数据共享 (sharing data with a
// Manager): `lst = manager.list()`, three processes append to it, the parent prints it. The list lives in
// shared memory; each append is one atomic operation of the process that makes it (no server process).
import { isMainProcess, Manager, Process } from 'posix-mp';

export function func(lst, i) {
  lst.append(i);
}

if (isMainProcess()) {
  const pList = [];

  const manage = new Manager();

  const lst = manage.list();

  for (let i = 0; i < 3; i++) {
    const p = new Process({ target: func, args: [lst, i] });
    pList.push(p);
    p.start();
  }

  for (const p of pList) await p.join();

  // Python's print(lst) shows the list's repr, e.g. [1, 0, 2]: the order is whichever process appended first.
  console.log(`[${lst.toArray().join(', ')}]`);

  console.log('end');
  manage.shutdown();
}
