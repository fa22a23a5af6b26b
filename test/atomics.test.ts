// atomics.wait / waitAsync / notify: futex waits on shared memory that work across processes.
import { type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

import { atomics, SharedMemory } from 'posix-mp';
import { sleep, spawnNode, uniqueName, within } from './helpers.js';

/**
 * Calls notify(view, index, 1) until it reports a woken waiter — the only way to know that a waiter in
 * another process is asleep. Every call returns 0 or 1; returns how many calls it took.
 */
async function notifyUntilWoken(view: Int32Array, index: number, child: ChildProcess): Promise<number> {
  const deadline = Date.now() + 30_000;
  for (let calls = 1; ; calls++) {
    const woken = atomics.notify(view, index, 1);
    expect([0, 1]).toContain(woken);
    if (woken === 1) return calls;
    if (child.exitCode !== null) throw new Error(`the child exited (${child.exitCode}) without waiting`);
    if (Date.now() > deadline) throw new Error('no waiter showed up');
    await sleep(5);
  }
}

/** How a child over a SharedMemory named argv[1] starts: `view` is the memory's first 16 Int32s. */
const CHILD_VIEW = `import { atomics, SharedMemory } from 'posix-mp';
  const shm = SharedMemory.open(process.argv[1]);
  const view = new Int32Array(shm.buf.buffer, 0, 16);`;

/**
 * A wait in each direction between this process and a child over one SharedMemory's first 16 Int32s.
 * `startParentWait` starts this process's side before the child exists and returns what completes it; the
 * child runs `childCode` (after CHILD_VIEW): it waits on `childIndex`, which this process notifies until the
 * child is woken, then notifies this process until it wakes one waiter, leaving `result` and `woken` set.
 */
async function waitsBothWays(
  tag: string,
  startParentWait: (view: Int32Array) => () => unknown,
  childIndex: number,
  childCode: string,
): Promise<void> {
  const shm = new SharedMemory({ name: uniqueName(tag), size: 64 });
  const view = new Int32Array(shm.buf.buffer, 0, 16);
  const completeParentWait = startParentWait(view);
  const child = spawnNode(`${CHILD_VIEW}\n${childCode}\nconsole.log(JSON.stringify({ result, woken }));`, [shm.name]);
  try {
    const result = within(child);
    result.catch(() => {});
    await notifyUntilWoken(view, childIndex, child);
    await completeParentWait();
    const { code, stdout, stderr } = await result;
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(JSON.parse(stdout)).toEqual({ result: 'ok', woken: 1 });
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    shm.close();
    shm.unlink();
  }
}

/** Threads of this process asleep in futex_waitv (syscall 449 on every Linux architecture): our async waits. */
function threadsInFutexWaitv(): number {
  let count = 0;
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      if (readFileSync(`/proc/self/task/${tid}/syscall`, 'utf8').startsWith('449 ')) count++;
    } catch {
      // The thread exited meanwhile.
    }
  }
  return count;
}

async function untilSleeping(n: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (threadsInFutexWaitv() < n) {
    if (Date.now() > deadline) throw new Error(`only ${threadsInFutexWaitv()} of ${n} waiters fell asleep`);
    await sleep(5);
  }
}

function withMemory(size = 64): { shm: SharedMemory; view: Int32Array; [Symbol.dispose](): void } {
  const shm = new SharedMemory({ size });
  return { shm, view: new Int32Array(shm.buf.buffer, 0, size / 4), [Symbol.dispose]: () => shm.close() };
}

describe('atomics in one process', () => {
  it("returns 'not-equal' when the word differs, sync and async", async () => {
    using m = withMemory();
    m.view[0] = 5;
    expect(atomics.wait(m.view, 0, 4)).toBe('not-equal');
    expect(atomics.wait(m.view, 0, 4, 0)).toBe('not-equal');
    expect(await atomics.waitAsync(m.view, 0, 4)).toBe('not-equal');
    expect(await atomics.waitAsync(m.view, 0, 4, { timeout: 0 })).toBe('not-equal');
  });

  it("returns 'timed-out' after the timeout, and at once for timeout 0, sync and async", async () => {
    using m = withMemory();
    expect(atomics.wait(m.view, 0, 0, 0)).toBe('timed-out');
    expect(atomics.wait(m.view, 0, 0, 30)).toBe('timed-out');
    expect(await atomics.waitAsync(m.view, 0, 0, { timeout: 0 })).toBe('timed-out');
    expect(await atomics.waitAsync(m.view, 0, 0, { timeout: 30 })).toBe('timed-out');
  });

  it('compares negative values as the same 32 bits', async () => {
    using m = withMemory();
    m.view[3] = -1;
    expect(atomics.wait(m.view, 3, -1, 10)).toBe('timed-out');
    expect(await atomics.waitAsync(m.view, 3, -1, { timeout: 10 })).toBe('timed-out');
    expect(atomics.wait(m.view, 3, 0x7fffffff, 10)).toBe('not-equal');
  });

  it('notify returns how many waiters it woke, and count 0 wakes nobody', async () => {
    using m = withMemory();
    expect(atomics.notify(m.view, 0)).toBe(0);
    expect(atomics.notify(m.view, 0, 5)).toBe(0);
    const waits = [0, 1, 2, 3].map(() => atomics.waitAsync(m.view, 0, 0, { timeout: 30_000 }));
    await untilSleeping(4);
    expect(atomics.notify(m.view, 0, 0)).toBe(0);
    expect(atomics.notify(m.view, 1)).toBe(0); // another word
    expect(atomics.notify(m.view, 0, 1)).toBe(1);
    expect(atomics.notify(m.view, 0, 2)).toBe(2);
    expect(atomics.notify(m.view, 0)).toBe(1);
    expect(atomics.notify(m.view, 0)).toBe(0);
    expect(await Promise.all(waits)).toEqual(['ok', 'ok', 'ok', 'ok']);
  });

  it("says the view's memory is closed, not that the index is out of range, after close()", async () => {
    const shm = new SharedMemory({ size: 64 });
    const view = new Int32Array(shm.buf.buffer, 0, 4);
    shm.close();
    for (const call of [() => atomics.notify(view, 0), () => atomics.wait(view, 0, 0, 0)]) {
      expect(call).toThrow(expect.objectContaining({ code: 'ERR_MP_CLOSED', message: expect.stringMatching(/view's memory is closed/) }));
    }
    await expect(atomics.waitAsync(view, 0, 0)).rejects.toMatchObject({ code: 'ERR_MP_CLOSED' });
  });

  it('views with a byte offset address the right word', async () => {
    using m = withMemory();
    const tail = new Int32Array(m.shm.buf.buffer, 16, 4); // tail[1] is view[5]
    const wait = atomics.waitAsync(tail, 1, 0, { timeout: 30_000 });
    await untilSleeping(1);
    expect(atomics.notify(m.view, 1)).toBe(0);
    expect(atomics.notify(m.view, 5)).toBe(1);
    expect(await wait).toBe('ok');
  });
});

describe('atomics across processes', () => {
  it('child waits synchronously, the parent notifies; the parent waits asynchronously, the child notifies', async () => {
    await waitsBothWays(
      'atomics-a',
      (view) => {
        // Started before the child exists: the child will notify it.
        const parentWait = atomics.waitAsync(view, 1, 0, { timeout: 30_000 });
        return async () => expect(await parentWait).toBe('ok');
      },
      0,
      `const result = atomics.wait(view, 0, 0, 30000);
       let calls = 0, woken = 0;
       while (woken === 0) {
         woken = atomics.notify(view, 1, 1);
         if (++calls > 6000) throw new Error('the parent never waited');
         if (woken === 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
       }`,
    );
  });

  it('child waits asynchronously, the parent notifies; the parent waits synchronously, the child notifies', async () => {
    await waitsBothWays(
      'atomics-b',
      // Blocks this thread until the child, woken first, notifies back.
      (view) => () => expect(atomics.wait(view, 0, 0, 30_000)).toBe('ok'),
      2,
      `const result = await atomics.waitAsync(view, 2, 0, { timeout: 30000 });
       let woken = 0;
       for (let calls = 0; woken === 0; calls++) {
         if (calls > 6000) throw new Error('the parent never waited');
         woken = atomics.notify(view, 0, 1);
         if (woken === 0) await new Promise((resolve) => setTimeout(resolve, 5));
       }`,
    );
  });

  it('a store + notify from another process ends a wait; a late one sees not-equal', async () => {
    const shm = new SharedMemory({ name: uniqueName('atomics-c'), size: 64 });
    const view = new Int32Array(shm.buf.buffer, 0, 16);
    const wait = atomics.waitAsync(view, 0, 0, { timeout: 30_000 });
    try {
      await untilSleeping(1);
      const child = await within(
        spawnNode(
          `${CHILD_VIEW}
           Atomics.store(view, 0, 1);
           console.log(atomics.notify(view, 0));`,
          [shm.name],
        ),
      );
      expect(child).toMatchObject({ code: 0, stderr: '', stdout: '1\n' });
      expect(await wait).toBe('ok');
      expect(await atomics.waitAsync(view, 0, 0)).toBe('not-equal');
      expect(atomics.wait(view, 0, 0)).toBe('not-equal');
    } finally {
      shm.close();
      shm.unlink();
    }
  });
});
