// Seed 000 "Python 进程及同步", section lock: two processes append to one file, each holding a Lock —
// one with `with lock:` (withLockSync), one with acquire()/release(). The same program is in seed 003.
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { isMainProcess, Lock, Process } from 'posix-mp';

export function workerWith(lock, f) {
  // Python's `with lock:`
  lock.withLockSync(() => {
    const fs = openSync(f, 'a+');
    let n = 10;
    while (n > 1) {
      writeSync(fs, 'Lockd acquired via with\n');
      n -= 1;
    }
    closeSync(fs);
  });
}

export function workerNoWith(lock, f) {
  lock.acquireSync();
  try {
    const fs = openSync(f, 'a+');
    let n = 10;
    while (n > 1) {
      writeSync(fs, 'Lock acquired directly\n');
      n -= 1;
    }
    closeSync(fs);
  } finally {
    lock.release();
  }
}

if (isMainProcess()) {
  const lock = new Lock();
  // The seed writes "file.txt" in the current directory; the demo uses a temporary file.
  const f = path.join(tmpdir(), `posix-mp-example-file-${process.pid}.txt`);
  const w = new Process({ target: workerWith, args: [lock, f] });
  const nw = new Process({ target: workerNoWith, args: [lock, f] });
  w.start();
  nw.start();
  console.log('end');

  // Not in the seed: wait for both, show that each one's lines came out in one piece, and clean up.
  await w.join();
  await nw.join();
  const lines = readFileSync(f, 'utf8').trimEnd().split('\n');
  rmSync(f);
  // Consecutive equal lines: two runs of 9 if the lock kept the writers apart.
  const runs = [];
  for (const line of lines) {
    if (runs.at(-1)?.line === line) runs.at(-1).count += 1;
    else runs.push({ line, count: 1 });
  }
  console.log(`the file has ${lines.length} lines in ${runs.length} runs:`);
  for (const { line, count } of runs) console.log(`  ${count} x ${line}`);
}
