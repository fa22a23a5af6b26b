// posix-mp's own example (not from a seed): two processes share memory under a semaphore, by name.
//
// This process creates a named SharedMemory holding one 32-bit counter and a named Semaphore (both with a
// unique name) and starts two worker processes (shared-counter-worker.mjs, with child_process.spawn: they
// are plain Node programs that open both objects by name). It lets them go at the same moment, and each
// adds 1 to the counter 10,000 times while holding the semaphore. The total must be exactly 20,000.
// Everything is unlinked at the end, also if something fails.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

import { Semaphore, SharedMemory } from 'posix-mp';

const COUNT = 10_000;
const WORKERS = [
  { label: 'worker 1', mode: 'sync' },
  { label: 'worker 2', mode: 'async' },
];
const HOW = { sync: 'sem.withLockSync(...)', async: 'await sem.withLock(...)' };

const name = `posix-mp-example-counter-${process.pid}-${randomBytes(3).toString('hex')}`;
const workerFile = fileURLToPath(new URL('./shared-counter-worker.mjs', import.meta.url));

const shm = new SharedMemory({ name, create: true, size: Int32Array.BYTES_PER_ELEMENT });
// Starts at 0: the workers open it and wait until this process lets them go together.
const sem = new Semaphore(0, { name, exclusive: true });
const children = [];
try {
  const counter = new Int32Array(shm.buf.buffer, shm.buf.byteOffset, 1);
  console.log(
    `main (pid ${process.pid}): SharedMemory '${shm.name}' (${shm.size} bytes) holds the counter, ` +
      `a Semaphore of the same name guards it; starting ${WORKERS.length} workers`,
  );

  const reports = WORKERS.map(({ label, mode }) => {
    const child = spawn(process.execPath, [workerFile, shm.name, sem.name, label, String(COUNT), mode], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.push(child);
    return collectLines(child);
  });
  await Promise.all(reports.map((r) => r.ready));
  sem.release(); // the semaphore now admits one worker at a time

  const results = await Promise.all(reports.map((r) => r.done));
  for (const r of results) {
    console.log(
      `${r.label} (pid ${r.pid}, ${HOW[r.mode]}): added 1 ${r.count} times in ${r.ms.toFixed(0)} ms ` +
        `(its first increment found ${r.first}, its last left ${r.last + 1})`,
    );
  }
  const expected = WORKERS.length * COUNT;
  console.log(`final total: ${counter[0]} (expected ${expected}) ${counter[0] === expected ? 'OK' : 'WRONG'}`);
  if (counter[0] !== expected) process.exitCode = 1;
} finally {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill();
  shm.close();
  shm.unlink();
  sem.close();
  sem.unlink();
  console.log('main: unlinked the shared memory and the semaphore');
}

/** `ready`: the worker has opened both objects; `done`: its JSON report (rejects if it fails). */
function collectLines(child) {
  let buffer = '';
  let onReady;
  const ready = new Promise((resolve) => (onReady = resolve));
  child.stdout.setEncoding('utf8').on('data', (data) => {
    buffer += data;
    if (buffer.startsWith('ready\n')) onReady();
  });
  const done = once(child, 'exit').then(([code, signal]) => {
    if (code !== 0) throw new Error(`worker ${child.pid} failed (${signal ?? `exit ${code}`})`);
    return JSON.parse(buffer.slice('ready\n'.length));
  });
  // A worker that dies before "ready" must not leave the demo waiting forever.
  done.catch(() => {});
  return { ready: Promise.race([ready, done]), done };
}
