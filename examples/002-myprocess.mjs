// Seed 002 "python---基础知识回顾(十)进程和线程(进程)", section 四, the class form: a Process subclass whose
// run() prints its pid (self.pid, os.getpid()) and its parent's (os.getppid()).
import { setTimeout as sleep } from 'node:timers/promises';

import { isMainProcess, Process } from 'posix-mp';

// One of the seed's seconds (shortened for the demo).
const SECOND = 50;

export class MyProcess extends Process {
  async run() {
    await sleep(5 * SECOND);
    console.log('hello', Date.now() / 1000);
    console.log(this.pid, process.pid); // the process's own pid, both ways
    console.log(process.ppid); // the parent's pid
  }
}

if (isMainProcess()) {
  const pList = [];
  for (let i = 0; i < 3; i++) {
    const p = new MyProcess();
    pList.push(p);
    p.start();
  }

  for (const p of pList) await p.join();

  console.log('end');
  console.log('(main process pid:', process.pid + ')'); // not in the seed: what os.getppid() printed
}
