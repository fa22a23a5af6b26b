// Seed 001 "Python--进程", section 进程间传递消息 ("一般的情况是Queue来传递"): an instance of MyFancyClass goes
// through a Queue to a worker process, which calls its method there. The class is exported from this module,
// so the worker imports it and the item arrives as a MyFancyClass (as pickle requires of Python classes).
// Python's queue.close() + join_thread() wait for its feeder thread; here put() has already finished.
import { currentProcess, isMainProcess, Process, Queue } from 'posix-mp';

export class MyFancyClass {
  constructor(name) {
    this.name = name;
  }

  doSomething() {
    const procName = currentProcess().name;
    console.log(`Doing something fancy in ${procName} for ${this.name}!`);
  }
}

export async function worker(q) {
  const obj = await q.get();
  obj.doSomething();
}

if (isMainProcess()) {
  const queue = new Queue();

  const p = new Process({ target: worker, args: [queue] });
  p.start();

  await queue.put(new MyFancyClass('Fancy Dan'));
  // Wait for the worker to finish
  queue.close();
  await p.join();
}
