// Semaphore and BoundedSemaphore: POSIX semaphores shared by name between unrelated processes.
import { type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

import { BoundedSemaphore, SEM_VALUE_MAX, Semaphore, SharedMemory } from 'posix-mp';
import { closeAndUnlink, killAll, lockedIncrements, spawnNode, uniqueName, within } from './helpers.js';

describe('Semaphore', () => {
  it('counts: value, release(n), acquire, acquireSync, timeout 0', async () => {
    const sem = new Semaphore(2, { name: uniqueName('sem-count') });
    try {
      expect(sem.getValue()).toBe(2);
      expect(sem.acquireSync()).toBe(true);
      expect(await sem.acquire()).toBe(true);
      expect(sem.getValue()).toBe(0);
      expect(sem.acquireSync({ timeout: 0 })).toBe(false);
      expect(await sem.acquire({ timeout: 0 })).toBe(false);
      sem.release(3);
      expect(sem.getValue()).toBe(3);
      expect(sem.acquireSync({ timeout: 0 })).toBe(true);
      expect(await sem.acquire({ timeout: 1000 })).toBe(true);
      expect(sem.getValue()).toBe(1);
      sem.release();
      expect(sem.getValue()).toBe(2);
    } finally {
      sem.close();
      sem.unlink();
    }
  });

  it('defaults to value 1 and is the POSIX object /dev/shm/sem.<name>; a leading / is dropped from the name', () => {
    const name = uniqueName('sem-name');
    const sem = new Semaphore(undefined, { name: `/${name}` });
    try {
      expect(sem.name).toBe(name);
      expect(sem.getValue()).toBe(1);
      expect(existsSync(`/dev/shm/sem.${name}`)).toBe(true);
    } finally {
      sem.close();
      sem.unlink();
    }
    expect(existsSync(`/dev/shm/sem.${name}`)).toBe(false);
  });

  it('opening an existing name shares its counter and ignores the value', () => {
    const name = uniqueName('sem-open');
    const a = new Semaphore(3, { name });
    const b = new Semaphore(7, { name });
    const c = Semaphore.open(name);
    try {
      expect(b.getValue()).toBe(3);
      b.acquireSync();
      expect(a.getValue()).toBe(2);
      c.release(5);
      expect(a.getValue()).toBe(7);
      expect(() => new Semaphore(1, { name, exclusive: true })).toThrow(expect.objectContaining({ code: 'EEXIST' }));
    } finally {
      a.close();
      b.close();
      c.close();
      Semaphore.unlink(name);
    }
  });

  it('a named semaphore persists after close until unlink; unlink works on a closed handle', () => {
    const name = uniqueName('sem-persist');
    const sem = new Semaphore(4, { name });
    sem.close();
    expect(sem.closed).toBe(true);
    sem.close(); // idempotent
    const again = Semaphore.open(name);
    try {
      expect(again.getValue()).toBe(4);
    } finally {
      again.close();
      sem.unlink();
    }
    expect(() => Semaphore.open(name)).toThrow(expect.objectContaining({ code: 'ENOENT', syscall: 'sem_open' }));
    expect(() => Semaphore.unlink(name)).toThrow(expect.objectContaining({ code: 'ENOENT', syscall: 'sem_unlink' }));
  });

  it('an anonymous semaphore works and leaves nothing in /dev/shm', async () => {
    const sem = new Semaphore(0);
    try {
      expect(sem.name).toMatch(/^mp-/);
      expect(existsSync(`/dev/shm/sem.${sem.name}`)).toBe(false);
      const pending = sem.acquire({ timeout: 30_000 });
      sem.release();
      expect(await pending).toBe(true);
      expect(sem.getValue()).toBe(0);
      sem.unlink(); // no-op for anonymous objects
    } finally {
      sem.close();
    }
  });

  it('withLock / withLockSync hold a token for the callback and give it back, also when it throws', async () => {
    const sem = new Semaphore(1, { name: uniqueName('sem-with') });
    try {
      expect(
        await sem.withLock(async () => {
          expect(sem.getValue()).toBe(0);
          await new Promise((resolve) => setImmediate(resolve));
          return 'async result';
        }),
      ).toBe('async result');
      expect(sem.getValue()).toBe(1);
      expect(sem.withLockSync(() => sem.getValue())).toBe(0);
      expect(sem.getValue()).toBe(1);
      await expect(sem.withLock(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
      expect(() =>
        sem.withLockSync(() => {
          throw new Error('sync boom');
        }),
      ).toThrow('sync boom');
      expect(sem.getValue()).toBe(1);
    } finally {
      sem.close();
      sem.unlink();
    }
  });

  it('release past SEM_VALUE_MAX throws EOVERFLOW instead of wrapping', () => {
    const sem = new Semaphore(SEM_VALUE_MAX);
    try {
      expect(sem.getValue()).toBe(SEM_VALUE_MAX);
      expect(() => sem.release()).toThrow(expect.objectContaining({ code: 'EOVERFLOW', syscall: 'sem_post' }));
      expect(sem.getValue()).toBe(SEM_VALUE_MAX);
    } finally {
      sem.close();
    }
  });
});

describe('BoundedSemaphore', () => {
  it('refuses to go above its initial value', () => {
    const sem = new BoundedSemaphore(2, { name: uniqueName('bsem') });
    try {
      expect(sem.bound).toBe(2);
      expect(() => sem.release()).toThrow(expect.objectContaining({ code: 'ERR_MP_RELEASE_TOO_MANY' }));
      expect(sem.getValue()).toBe(2);
      sem.acquireSync();
      sem.acquireSync();
      expect(() => sem.release(3)).toThrow(expect.objectContaining({ code: 'ERR_MP_RELEASE_TOO_MANY' }));
      expect(sem.getValue()).toBe(0);
      sem.release(2);
      expect(sem.getValue()).toBe(2);
      expect(sem.withLockSync(() => sem.getValue())).toBe(1);
      expect(sem.getValue()).toBe(2);
      expect(sem).toBeInstanceOf(Semaphore);
    } finally {
      sem.close();
      sem.unlink();
    }
  });

  it('BoundedSemaphore.open(name, bound) takes the bound from the caller', () => {
    const name = uniqueName('bsem-open');
    const creator = new BoundedSemaphore(1, { name });
    const opened = BoundedSemaphore.open(name, 1);
    try {
      creator.acquireSync();
      expect(opened.getValue()).toBe(0);
      opened.release();
      expect(() => opened.release()).toThrow(expect.objectContaining({ code: 'ERR_MP_RELEASE_TOO_MANY' }));
      expect(() => creator.release()).toThrow(expect.objectContaining({ code: 'ERR_MP_RELEASE_TOO_MANY' }));
    } finally {
      creator.close();
      opened.close();
      creator.unlink();
    }
  });
});

describe('between processes', () => {
  it('the test process and two Node children each do N locked increments: the total is exact', async () => {
    const N = 1500;
    const shm = new SharedMemory({ name: uniqueName('sem-counter-shm'), size: 64 });
    const mutex = new Semaphore(1, { name: uniqueName('sem-counter-mutex') });
    const gate = new Semaphore(0, { name: uniqueName('sem-counter-gate') });
    const children: ChildProcess[] = [];
    // A plain read-modify-write with a pause inside: only the semaphore keeps increments from being lost.
    const child = (style: 'sync' | 'async'): ChildProcess =>
      spawnNode(
        `import { Semaphore, SharedMemory } from 'posix-mp';
         const [shmName, mutexName, gateName, n, style] = process.argv.slice(1);
         const shm = SharedMemory.open(shmName);
         const mutex = Semaphore.open(mutexName);
         const gate = Semaphore.open(gateName);
         const counter = new BigUint64Array(shm.buf.buffer, 0, 1);
         if (style === 'sync') gate.acquireSync(); else await gate.acquire();
         for (let i = 0; i < Number(n); i++) {
           if (style === 'sync') {
             mutex.withLockSync(() => {
               const value = counter[0];
               if (i % 32 === 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
               counter[0] = value + 1n;
             });
           } else {
             await mutex.withLock(async () => {
               const value = counter[0];
               if (i % 32 === 0) await new Promise((resolve) => setImmediate(resolve));
               counter[0] = value + 1n;
             });
           }
         }
         mutex.close(); gate.close(); shm.close();`,
        [shm.name, mutex.name, gate.name, String(N), style],
      );
    try {
      children.push(child('sync'), child('async'));
      const results = children.map((c) => within(c));
      for (const result of results) result.catch(() => {});
      gate.release(2);
      const counter = new BigUint64Array(shm.buf.buffer, 0, 1);
      await lockedIncrements(mutex, counter, N, 32);
      for (const result of await Promise.all(results)) expect(result).toMatchObject({ code: 0, stderr: '' });
      expect(counter[0]).toBe(BigInt(3 * N));
      expect(mutex.getValue()).toBe(1);
    } finally {
      killAll(children);
      closeAndUnlink(shm, mutex, gate);
    }
  });

  it('release(n) in one process wakes n blocked acquirers in another', async () => {
    const sem = new Semaphore(0, { name: uniqueName('sem-wake-n') });
    const started = new Semaphore(0, { name: uniqueName('sem-wake-started') });
    const waiter = spawnNode(
      `import { Semaphore } from 'posix-mp';
       const [name, startedName] = process.argv.slice(1);
       const sem = Semaphore.open(name);
       const waits = [sem.acquire({ timeout: 30000 }), sem.acquire({ timeout: 30000 }), sem.acquire({ timeout: 30000 })];
       Semaphore.open(startedName).release();
       console.log(JSON.stringify(await Promise.all(waits)));`,
      [sem.name, started.name],
    );
    try {
      const result = within(waiter);
      result.catch(() => {});
      const childGone = result.then((r) => Promise.reject(new Error(`child ended early: ${JSON.stringify(r)}`)));
      childGone.catch(() => {});
      expect(await Promise.race([started.acquire({ timeout: 30_000 }), childGone])).toBe(true);
      sem.release(3);
      expect(await result).toMatchObject({ code: 0, stderr: '', stdout: '[true,true,true]\n' });
      expect(sem.getValue()).toBe(0);
    } finally {
      killAll([waiter]);
      closeAndUnlink(sem, started);
    }
  });
});
