// Seed 000 "Python 进程及同步", section 将进程定义为类 (a process as a class): a Process subclass that
// overrides run(). The same program is in seed 003 (自定义进程).
import { setTimeout as sleep } from 'node:timers/promises';

import { isMainProcess, Process } from 'posix-mp';

// One of the seed's seconds (shortened for the demo).
const SECOND = 50;

const ctime = () => new Date().toString().slice(0, 24);

// Exported, so that the child can find the class (as Python's child finds it by its qualified name).
export class ClockProcess extends Process {
  constructor(interval) {
    super();
    // Own fields travel to the child, like the attributes of a pickled Python Process.
    this.interval = interval;
  }

  async run() {
    let n = 5;
    while (n > 0) {
      console.log(`the time is ${ctime()}`);
      await sleep(this.interval * SECOND);
      n -= 1;
    }
  }
}

if (isMainProcess()) {
  const p = new ClockProcess(3);
  p.start();
}
