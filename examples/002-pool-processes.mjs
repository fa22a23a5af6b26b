// Seed 002 "Python 多进程", section Pool进程池 补充: "Pool(processes=3) does not necessarily create 3
// processes at once" — the seed saw one or two pids serve ten quick tasks and concluded that the pool
// creates workers only when tasks block. In fact Python's Pool starts all its workers at once; quick tasks
// are simply all taken by whichever worker is free first. posix-mp's Pool also starts all three workers at
// once (in parallel), and hands tasks out to its workers in turn, so even quick tasks spread over them.
import { activeChildren, isMainProcess, Pool } from 'posix-mp';

const SECOND = 50;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Quick task: the seed's "for i in range(4): num += i".
export function quick(num) {
  for (let i = 0; i < 4; i++) num += i;
  return process.pid;
}

// Slow task: the seed's time.sleep(3).
export async function slow(num) {
  await sleep(3 * SECOND);
  return process.pid;
}

if (isMainProcess()) {
  const pool = new Pool(3);
  console.log(`worker processes right after Pool(3): ${activeChildren().length}`);
  const quickPids = new Set(await pool.map(quick, Array.from({ length: 10 }, (_, i) => i), { chunksize: 1 }));
  console.log(`10 quick tasks ran in ${quickPids.size} worker processes`);
  const slowPids = new Set(await pool.map(slow, Array.from({ length: 10 }, (_, i) => i), { chunksize: 1 }));
  console.log(`10 slow tasks ran in ${slowPids.size} worker processes`);
  pool.close();
  await pool.join();
  console.log(`worker processes after join(): ${activeChildren().length}`);
}
