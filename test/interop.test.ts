// Node, C and Python on the very same POSIX objects at the same time: a C program built here with gcc against
// nothing but glibc (shm_open, mmap, sem_open), a Python program using only the standard library
// (multiprocessing.shared_memory plus libc's sem_* through ctypes), a child Node process and this process.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Semaphore, SharedMemory } from 'posix-mp';
import { closeAndUnlink, killAll, lockedIncrements, spawnNode, uniqueName, within } from './helpers.js';

const peers = fileURLToPath(new URL('./peers/', import.meta.url));
const pythonPeer = path.join(peers, 'sem_shm_peer.py');
let buildDir: string;
let cPeer: string;

beforeAll(async () => {
  buildDir = mkdtempSync(path.join(tmpdir(), 'pmp-interop-'));
  cPeer = path.join(buildDir, 'sem_shm_peer');
  await promisify(execFile)('gcc', [
    '-std=c11', '-O2', '-Wall', '-Wextra', '-Werror', '-pthread',
    path.join(peers, 'sem_shm_peer.c'), '-o', cPeer,
  ]);
});

afterAll(() => {
  if (buildDir) rmSync(buildDir, { recursive: true, force: true });
});

function spawnPeer(file: string, args: string[]): ChildProcess {
  return spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
}

describe('Node, C and Python on the same objects', () => {
  it('all increment one counter under one named Semaphore at the same time: exactly 4N', async () => {
    const N = 1000;
    const shm = new SharedMemory({ name: `/${uniqueName('interop-shm')}`, size: 4096 });
    const mutex = new Semaphore(1, { name: uniqueName('interop-mutex') });
    // Everyone waits for a token of the gate, so the four loops really overlap.
    const gate = new Semaphore(0, { name: uniqueName('interop-gate') });
    const children: ChildProcess[] = [];
    try {
      // The names are what other languages pass: Python's SharedMemory(name) and C's sem_open("/" + name).
      expect(shm.name.startsWith('/')).toBe(false);
      expect(existsSync(`/dev/shm/${shm.name}`)).toBe(true);
      expect(existsSync(`/dev/shm/sem.${mutex.name}`)).toBe(true);

      const node = spawnNode(
        `import { Semaphore, SharedMemory } from 'posix-mp';
         const [shmName, mutexName, gateName, n] = process.argv.slice(1);
         const shm = SharedMemory.open(shmName);
         const mutex = Semaphore.open(mutexName);
         const gate = Semaphore.open(gateName);
         const counter = new BigUint64Array(shm.buf.buffer, 0, 1);
         gate.acquireSync();
         for (let i = 0; i < Number(n); i++) {
           // Alternate the blocking and the promise form.
           if (i % 2 === 0) mutex.acquireSync(); else await mutex.acquire();
           const value = counter[0];
           if (i % 64 === 0) await new Promise((resolve) => setImmediate(resolve));
           counter[0] = value + 1n;
           mutex.release();
         }
         mutex.close(); gate.close(); shm.close();`,
        [shm.name, mutex.name, gate.name, String(N)],
      );
      const c = spawnPeer(cPeer, ['counter', shm.name, mutex.name, gate.name, String(N)]);
      const python = spawnPeer('python3', [pythonPeer, 'counter', shm.name, mutex.name, gate.name, String(N)]);
      children.push(node, c, python);
      const results = [within(node, 45_000, 'node peer'), within(c, 45_000, 'C peer'), within(python, 45_000, 'Python peer')];
      // A failed peer must fail the test, not leave an unhandled rejection behind while we wait.
      for (const result of results) result.catch(() => {});

      gate.release(3);
      const counter = new BigUint64Array(shm.buf.buffer, 0, 1);
      await lockedIncrements(mutex, counter, N, 64);

      const [nodeResult, cResult, pythonResult] = await Promise.all(results);
      expect(nodeResult).toMatchObject({ code: 0, stderr: '' });
      expect(cResult).toMatchObject({ code: 0, stderr: '', stdout: `size ${shm.size}\n` });
      expect(pythonResult).toMatchObject({ code: 0, stderr: '' });
      // Python's SharedMemory reports the same name (no '/') and size as ours.
      expect(JSON.parse(pythonResult!.stdout)).toEqual({ name: shm.name, size: shm.size });
      expect(counter[0]).toBe(BigInt(4 * N));
      expect(mutex.getValue()).toBe(1);
      expect(gate.getValue()).toBe(0);
    } finally {
      killAll(children);
      closeAndUnlink(shm, mutex, gate);
    }
  });

  it('C posts wake a pending Node acquire, and Node releases wake a C sem_timedwait', async () => {
    const sem = new Semaphore(0, { name: uniqueName('interop-post') });
    const children: ChildProcess[] = [];
    try {
      const acquired = sem.acquire({ timeout: 30_000 });
      const poster = spawnPeer(cPeer, ['post', sem.name, '1']);
      children.push(poster);
      // Listen from the start: the poster may be long gone by the time the acquire resolves.
      const posted = within(poster, 30_000, 'C poster');
      posted.catch(() => {});
      expect(await acquired).toBe(true);
      expect(await posted).toMatchObject({ code: 0, stderr: '' });
      expect(sem.getValue()).toBe(0);

      const waiter = spawnPeer(cPeer, ['wait', sem.name, '30000']);
      children.push(waiter);
      const result = within(waiter, 35_000, 'C waiter');
      result.catch(() => {});
      // Whether the C program is already asleep or not yet started, the token is there for it.
      sem.release();
      expect(await result).toMatchObject({ code: 0, stdout: 'acquired\n', stderr: '' });
      expect(sem.getValue()).toBe(0);
    } finally {
      killAll(children);
      sem.close();
      sem.unlink();
    }
  });

  it('a C sem_timedwait times out while nobody posts (the Semaphore really is that counter)', async () => {
    const sem = new Semaphore(0, { name: uniqueName('interop-timeout') });
    const children: ChildProcess[] = [];
    try {
      const waiter = spawnPeer(cPeer, ['wait', sem.name, '100']);
      children.push(waiter);
      expect(await within(waiter, 30_000, 'C waiter')).toMatchObject({ code: 0, stdout: 'timeout\n', stderr: '' });
    } finally {
      killAll(children);
      sem.close();
      sem.unlink();
    }
  });

  it('SharedMemory created by Python is opened by Node with its name, size and bytes', async () => {
    const name = uniqueName('interop-py');
    const size = 10_000;
    const python = spawnPeer('python3', [pythonPeer, 'create', name, String(size)]);
    try {
      const result = await within(python, 30_000, 'Python creator');
      expect(result).toMatchObject({ code: 0, stderr: '' });
      expect(JSON.parse(result.stdout)).toEqual({ name, size });
      const shm = SharedMemory.open(name);
      try {
        expect(shm.name).toBe(name);
        expect(shm.size).toBe(size);
        const expected = Buffer.from(Array.from({ length: size }, (_, i) => i % 251));
        expect(shm.buf.equals(expected)).toBe(true);
      } finally {
        shm.close();
      }
    } finally {
      killAll([python]);
      rmSync(`/dev/shm/${name}`, { force: true });
    }
  });
});
