// Seed 002 "Python 多进程", section Pool进程池: ten tasks submitted to Pool(processes=3) without waiting
// (apply_async), then close() and join(): at most three run at once, each worker taking the next task as it
// finishes one; the return values, read after join() (ret.get()). Then the blocking form (apply in a loop):
// one task at a time. Then two functions registered alternately (为进程池添加多个任务).
import { isMainProcess, Pool } from 'posix-mp';

const SECOND = 50;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// The workers' code
export async function func(num) {
  console.log(num, process.pid, 'start');
  await sleep(3 * SECOND);
  console.log(num, 'end');
  return [num, process.pid];
}

export async function func2(num) {
  console.log(num, process.pid, 'start2');
  await sleep(3 * SECOND);
}

if (isMainProcess()) {
  console.log('start');
  let bg = Date.now();
  const pool = new Pool(3);
  // apply_async: apply() returns a promise at once; keeping it without awaiting is the non-blocking form.
  const result = [];
  for (let i = 0; i < 10; i++) result.push(pool.apply(func, [i]));
  // close() before join(), as in Python: no more tasks; join() waits for the submitted ones and the workers.
  pool.close();
  await pool.join();
  for (const ret of result) console.log(`result ${JSON.stringify(await ret)}`); // ret.get()
  console.log('end');
  console.log(`${Date.now() - bg >= 12 * SECOND ? 'about 4 rounds of 3 tasks' : 'too fast'}`);

  // 进程池(阻塞apply的使用): awaiting each apply() runs the tasks one after the other.
  bg = Date.now();
  const blocking = new Pool(3);
  for (let i = 0; i < 3; i++) await blocking.apply(func, [i]);
  blocking.close();
  await blocking.join();
  console.log(`blocking apply: ${Date.now() - bg >= 9 * SECOND ? 'one task at a time' : 'too fast'}`);

  // 为进程池添加多个任务: two functions, five tasks each, shared by the same three workers.
  const two = new Pool(3);
  for (let i = 0; i < 5; i++) {
    void two.apply(func, [i]);
    void two.apply(func2, [i]);
  }
  two.close();
  await two.join();
  console.log('two functions: end');
}
