// Seed 001 "Python--进程", section 进程间传递消息 (the Consumer/Task program): Consumer processes take Task
// objects from a JoinableQueue, call them, mark them done and put the answers on a result Queue; a None
// (here null) poison pill per consumer ends them. The main process waits with tasks.join(), then prints the
// results. Task is exported, so the consumers get real Tasks and can call them.
import { setTimeout as sleep } from 'node:timers/promises';

import { cpuCount, isMainProcess, JoinableQueue, Process, Queue } from 'posix-mp';

// One of the seed's seconds (shortened for the demo).
const SECOND = 50;

export class Consumer extends Process {
  constructor(taskQueue, resultQueue) {
    super();
    this.taskQueue = taskQueue;
    this.resultQueue = resultQueue;
  }

  async run() {
    const procName = this.name;
    for (;;) {
      const nextTask = await this.taskQueue.get();
      if (nextTask === null) {
        // Poison pill means shutdown
        console.log(`${procName}: Exiting`);
        this.taskQueue.taskDone();
        break;
      }
      console.log(`${procName}: ${nextTask}`);
      const answer = await nextTask.call();
      this.taskQueue.taskDone();
      await this.resultQueue.put(answer);
    }
  }
}

export class Task {
  constructor(a, b) {
    this.a = a;
    this.b = b;
  }

  async call() {
    await sleep(0.1 * SECOND); // pretend to take some time to do the work
    return `${this.a} * ${this.b} = ${this.a * this.b}`;
  }

  toString() {
    return `${this.a} * ${this.b}`;
  }
}

if (isMainProcess()) {
  // Establish communication queues
  const tasks = new JoinableQueue();
  const results = new Queue();

  // Start consumers
  const numConsumers = cpuCount() * 2;
  console.log(`Creating ${numConsumers} consumers`);
  const consumers = Array.from({ length: numConsumers }, () => new Consumer(tasks, results));
  for (const w of consumers) w.start();

  // Enqueue jobs
  let numJobs = 10;
  for (let i = 0; i < numJobs; i++) await tasks.put(new Task(i, i));

  // Add a poison pill for each consumer
  for (let i = 0; i < numConsumers; i++) await tasks.put(null);

  // Wait for all of the tasks to finish
  await tasks.join();

  // Start printing results
  while (numJobs) {
    const result = await results.get();
    console.log('Result:', result);
    numJobs -= 1;
  }
  for (const w of consumers) await w.join();
  tasks.close();
  results.close();
}
