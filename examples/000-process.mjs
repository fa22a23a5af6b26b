// Seed 000 "Python 进程及同步", section 进程模块 (example): a Process with args; pid, name, is_alive;
// cpu_count and active_children.
import { setTimeout as sleep } from 'node:timers/promises';

import { activeChildren, cpuCount, isMainProcess, Process } from 'posix-mp';

// One of the seed's seconds (shortened for the demo).
const SECOND = 50;

// Python's time.ctime(): 'Sun Nov 22 2026 06:36:14'.
const ctime = () => new Date().toString().slice(0, 24);

export async function worker(interval) {
  let n = 5;
  while (n > 0) {
    console.log(`The time is ${ctime()}`);
    await sleep(interval * SECOND);
    n -= 1;
  }
}

if (isMainProcess()) {
  const p = new Process({ target: worker, args: [3] });
  p.start();
  console.log('p.pid:', p.pid);
  console.log('p.name:', p.name);
  console.log('p.is_alive:', p.isAlive());

  // In the seed these lines are outside `if __name__ == "__main__"`, which under fork runs once. A posix-mp
  // child imports this module, so they belong inside the guard.
  console.log('The number of CPU is:' + cpuCount());
  for (const child of activeChildren()) {
    console.log('child   p.name:' + child.name + '\tp.id' + child.pid);
  }
  console.log('END!!!!!!!!!!!!!!!!!');
  // Like Python, the program ends once its (non-daemon) child has ended.
}
