// Seed 002 "python---基础知识回顾(十)进程和线程(进程)", section Queue实现数据传输 (data through a Queue):
// three processes each put [n, pid]; the main process joins them, then gets the three items. A child may
// exit right after put(): the item is already in the queue (no feeder thread, so no "join before get"
// deadlock either).
import { isMainProcess, Process, Queue } from 'posix-mp';

export async function func(que, n) {
  await que.put([n, process.pid]);
}

if (isMainProcess()) {
  const q = new Queue();

  const pList = [];
  for (let i = 0; i < 3; i++) {
    const p = new Process({ target: func, args: [q, i] });
    pList.push(p);
    p.start();
  }

  for (const p of pList) await p.join();

  console.log(await q.get());
  console.log(await q.get());
  console.log(await q.get());
  console.log('end');
  q.close();
}
