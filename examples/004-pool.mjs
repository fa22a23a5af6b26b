// Seed 004 "python 3.5 进程与线程", section pool: Pool(4) runs five tasks of random length; tasks 0-3 start
// at once, task 4 waits until one of them ends (the pool has four workers).
import { isMainProcess, Pool } from 'posix-mp';

const SECOND = 50;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export async function longTimeTask(name) {
  console.log(`Run task ${name} (${process.pid})...`);
  const start = Date.now();
  await sleep(Math.random() * 3 * SECOND);
  const end = Date.now();
  console.log(`Task ${name} runs ${((end - start) / 1000).toFixed(2)} seconds.`);
}

if (isMainProcess()) {
  console.log(`Parent process ${process.pid}.`);
  const p = new Pool(4);
  for (let i = 0; i < 5; i++) void p.apply(longTimeTask, [i]);
  console.log('Waiting for all subprocesses done...');
  p.close();
  await p.join();
  console.log('All subprocesses done.');
}
