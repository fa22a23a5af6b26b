// Seed 004 "python 3.5 进程与线程", section multiprocessing: start one process with an argument and wait for
// it with join().
import { isMainProcess, Process } from 'posix-mp';

// The child's code
export function runProc(name) {
  console.log(`Run child process ${name} (${process.pid})...`);
}

if (isMainProcess()) {
  console.log(`Parent process ${process.pid}.`);
  const p = new Process({ target: runProc, args: ['test'] });
  console.log('Child process will start.');
  p.start();
  await p.join();
  console.log('Child process end.');
}
