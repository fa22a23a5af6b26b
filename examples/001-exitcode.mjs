// Seed 001 "Python--进程", section 进程的退出状态 (exit codes): 0 for a normal end, n for exit(n), 1 for an
// uncaught error (its stack goes to stderr), -N for a process killed by signal N.
import { setTimeout as sleep } from 'node:timers/promises';

import { isMainProcess, Process } from 'posix-mp';

// One of the seed's seconds (shortened for the demo).
const SECOND = 50;

export function exit_error() {
  process.exit(1); // sys.exit(1)
}

export function exit_ok() {
  return;
}

export function return_value() {
  return 1;
}

export function raises() {
  throw new Error('There was an error!'); // raise RuntimeError(...)
}

export async function terminated() {
  await sleep(3 * SECOND);
}

if (isMainProcess()) {
  const jobs = [];
  for (const f of [exit_error, exit_ok, return_value, raises, terminated]) {
    console.log('Starting process for', f.name);
    const j = new Process({ target: f, name: f.name });
    jobs.push(j);
    j.start();
  }

  jobs.at(-1).terminate();
  for (const j of jobs) {
    await j.join();
    console.log(`${j.name.padStart(15)}.exitcode = ${j.exitCode}`);
  }
}
