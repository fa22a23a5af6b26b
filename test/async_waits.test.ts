// The promise forms of blocking operations: they wait on the addon's own waiter threads (never libuv's pool),
// and timeouts, AbortSignals and close() end them without leaking a native waiter or a semaphore token.
import { type ChildProcess } from 'node:child_process';
import { pbkdf2 } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { setMaxListeners } from 'node:events';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

import { atomics, Semaphore, SharedMemory } from 'posix-mp';
import { loadAddon, sleep, spawnNode, uniqueName, type ChildResult } from './helpers.js';

/** The addon instance the package uses (same file, same require cache). */
const binding = loadAddon<{ pendingWaits(): number }>();

/** Waits (generously) until every native wait has delivered its result. */
async function settledNative(): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (binding.pendingWaits() !== 0) {
    if (Date.now() > deadline) throw new Error(`${binding.pendingWaits()} native waits still pending`);
    await sleep(2);
  }
}

/** Rejects if `promise` takes longer than `ms` — only to turn a hang into a failure, never to measure speed. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not complete within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The child's exit status and whole output (until its pipes close); rejects after `ms` instead of hanging. */
function childResult(child: ChildProcess, ms = 45_000): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`child did not finish within ${ms} ms`));
    }, ms);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

type Outcome = { value: unknown } | { error: unknown };
const outcome = (p: Promise<unknown>): Promise<Outcome> => p.then((value) => ({ value }), (error: unknown) => ({ error }));

describe('1,000 pending async waits', () => {
  it('leave fs, crypto and dns working; one abort rejects them all with its reason and frees every waiter', async () => {
    await settledNative();
    const sem = new Semaphore(0, { name: uniqueName('async-many') });
    const shm = new SharedMemory({ size: 4096 });
    const view = new Int32Array(shm.buf.buffer);
    const controller = new AbortController();
    // One listener per wait, as with any signal-taking Node API: 1,000 are intended here.
    setMaxListeners(2000, controller.signal);
    try {
      const waits: Promise<unknown>[] = [];
      for (let i = 0; i < 500; i++) {
        waits.push(sem.acquire({ signal: controller.signal }));
        waits.push(atomics.waitAsync(view, i % 64, 0, { signal: controller.signal }));
      }
      let settledEarly = 0;
      const outcomes = Promise.all(waits.map((w) => outcome(w.finally(() => settledEarly++))));
      expect(binding.pendingWaits()).toBe(1000);

      // Work that needs libuv's thread pool (4 threads): more jobs than threads, all must finish.
      const work = Promise.all([
        readFile(fileURLToPath(import.meta.url), 'utf8'),
        ...[1, 2, 3, 4, 5, 6].map((i) => promisify(pbkdf2)(`secret ${i}`, 'salt', 2000, 32, 'sha256')),
        lookup('localhost'),
        readFile('/proc/self/status', 'utf8'),
      ]);
      const [source, ...rest] = await within(work, 30_000, 'thread-pool work');
      expect(source).toContain('1,000 pending async waits');
      expect(rest.slice(0, 6).every((key) => Buffer.isBuffer(key) && key.length === 32)).toBe(true);

      expect(settledEarly).toBe(0);
      expect(binding.pendingWaits()).toBe(1000);

      controller.abort();
      const results = await within(outcomes, 30_000, 'the aborted waits');
      for (const result of results) {
        expect(result).toEqual({ error: controller.signal.reason });
      }
      expect((controller.signal.reason as Error).name).toBe('AbortError');
      await settledNative();
      expect(sem.getValue()).toBe(0);
    } finally {
      sem.close();
      sem.unlink();
      shm.close();
    }
  });
});

describe('timeouts', () => {
  it('acquire resolves false and waitAsync "timed-out" after the timeout; timeout 0 never waits', async () => {
    const sem = new Semaphore(0);
    const shm = new SharedMemory({ size: 64 });
    const view = new Int32Array(shm.buf.buffer);
    try {
      expect(await sem.acquire({ timeout: 30 })).toBe(false);
      expect(await atomics.waitAsync(view, 0, 0, { timeout: 30 })).toBe('timed-out');
      expect(await sem.acquire({ timeout: 0 })).toBe(false);
      expect(await atomics.waitAsync(view, 0, 0, { timeout: 0 })).toBe('timed-out');
      expect(sem.acquireSync({ timeout: 30 })).toBe(false);
      expect(sem.acquireSync({ timeout: 0 })).toBe(false);
      // Fractions of a millisecond and absurdly long timeouts are fine too.
      expect(await sem.acquire({ timeout: 0.5 })).toBe(false);
      const long = sem.acquire({ timeout: 1e300 });
      sem.release();
      expect(await long).toBe(true);
      sem.release();
      expect(await sem.acquire({ timeout: 0 })).toBe(true);
      await settledNative();
    } finally {
      sem.close();
      shm.close();
    }
  });

  it('a timed-out wait does not take a token that arrives later', async () => {
    const sem = new Semaphore(0);
    try {
      expect(await sem.acquire({ timeout: 20 })).toBe(false);
      await settledNative();
      sem.release();
      expect(sem.getValue()).toBe(1);
    } finally {
      sem.close();
    }
  });
});

describe('AbortSignal', () => {
  it('an already-aborted signal rejects at once with its reason, even when a token is free', async () => {
    const sem = new Semaphore(1);
    const shm = new SharedMemory({ size: 64 });
    const view = new Int32Array(shm.buf.buffer);
    try {
      const aborted = AbortSignal.abort();
      await expect(sem.acquire({ signal: aborted })).rejects.toBe(aborted.reason);
      await expect(atomics.waitAsync(view, 0, 0, { signal: aborted })).rejects.toBe(aborted.reason);
      const reason = new Error('custom reason');
      await expect(sem.acquire({ signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
      await expect(sem.acquire({ timeout: 0, signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
      expect(sem.getValue()).toBe(1);
      expect(binding.pendingWaits()).toBe(0);
    } finally {
      sem.close();
      shm.close();
    }
  });

  it('aborting one wait leaves the others waiting; AbortSignal.timeout works as a signal', async () => {
    const sem = new Semaphore(0);
    try {
      const first = new AbortController();
      const a = sem.acquire({ signal: first.signal });
      const b = sem.acquire({ timeout: 30_000 });
      const c = sem.acquire({ signal: AbortSignal.timeout(20) });
      first.abort();
      await expect(a).rejects.toMatchObject({ name: 'AbortError' });
      await expect(c).rejects.toMatchObject({ name: 'TimeoutError' });
      sem.release();
      expect(await b).toBe(true);
      await settledNative();
      expect(sem.getValue()).toBe(0);
    } finally {
      sem.close();
    }
  });

  it('a token taken by a wait that was just aborted goes back to the semaphore (post + abort races)', async () => {
    const name = uniqueName('async-race');
    const sem = new Semaphore(0, { name });
    const poster = Semaphore.open(name);
    let acquired = 0;
    let aborted = 0;
    try {
      for (let i = 0; i < 150; i++) {
        const controller = new AbortController();
        const wait = outcome(sem.acquire({ signal: controller.signal }));
        // Vary how far the waiter thread gets before the post and the abort.
        if (i % 3 === 1) await new Promise((resolve) => setImmediate(resolve));
        if (i % 3 === 2) await sleep(1);
        if (i % 2 === 0) {
          poster.release();
          controller.abort();
        } else {
          controller.abort();
          poster.release();
        }
        const result = await wait;
        if ('value' in result) {
          expect(result.value).toBe(true);
          acquired++;
          sem.release();
        } else {
          expect(result.error).toBe(controller.signal.reason);
          aborted++;
        }
        await settledNative();
        // Exactly the one posted token is there: neither lost nor duplicated.
        expect(poster.getValue()).toBe(1);
        expect(sem.acquireSync({ timeout: 0 })).toBe(true);
      }
      expect(acquired + aborted).toBe(150);
    } finally {
      sem.close();
      poster.close();
      Semaphore.unlink(name);
    }
  });
});

describe('close() with pending waits', () => {
  it('rejects them with ERR_MP_CLOSED and frees the native waiters (named and anonymous)', async () => {
    const name = uniqueName('async-close');
    const named = new Semaphore(0, { name });
    const other = Semaphore.open(name);
    const anonymous = new Semaphore(0);
    try {
      const waits = [named.acquire(), named.acquire({ timeout: 30_000 }), anonymous.acquire(), anonymous.acquire()];
      expect(binding.pendingWaits()).toBe(4);
      named.close();
      anonymous.close();
      for (const result of await Promise.all(waits.map(outcome))) {
        expect(result).toEqual({ error: expect.objectContaining({ code: 'ERR_MP_CLOSED' }) });
      }
      await settledNative();
      // The semaphore itself is untouched for the other handle.
      other.release();
      expect(other.getValue()).toBe(1);
      await expect(named.acquire()).rejects.toMatchObject({ code: 'ERR_MP_CLOSED' });
    } finally {
      named.close();
      other.close();
      anonymous.close();
      Semaphore.unlink(name);
    }
  });

  it('close() racing a release neither crashes nor loses the token', async () => {
    const name = uniqueName('async-close-race');
    const keeper = new Semaphore(0, { name });
    try {
      for (let i = 0; i < 40; i++) {
        const sem = Semaphore.open(name);
        const wait = outcome(sem.acquire());
        if (i % 2 === 1) await sleep(1);
        keeper.release();
        sem.close();
        expect(await wait).toEqual({ error: expect.objectContaining({ code: 'ERR_MP_CLOSED' }) });
        await settledNative();
        expect(keeper.getValue()).toBe(1);
        expect(keeper.acquireSync({ timeout: 0 })).toBe(true);
      }
    } finally {
      keeper.close();
      keeper.unlink();
    }
  });
});

describe('across processes', () => {
  it('acquireSync({ timeout }) waits for a release from another process, and times out without one', async () => {
    // One semaphore per direction: a process must not be able to take back the token it meant for the other.
    const toParent = new Semaphore(0, { name: uniqueName('async-sync-up') });
    const toChild = new Semaphore(0, { name: uniqueName('async-sync-down') });
    const started = new Semaphore(0, { name: uniqueName('async-sync-started') });
    const child = spawnNode(
      `import { Semaphore } from 'posix-mp';
       const [upName, downName, startedName] = process.argv.slice(1);
       const up = Semaphore.open(upName);
       const down = Semaphore.open(downName);
       Semaphore.open(startedName).release();
       await new Promise((resolve) => setTimeout(resolve, 100));
       up.release();
       // Then the other way round: the child blocks until the parent releases.
       console.log(String(down.acquireSync({ timeout: 30000 })));
       console.log(String(down.acquireSync({ timeout: 50 })));`,
      [toParent.name, toChild.name, started.name],
    );
    try {
      const result = childResult(child);
      result.catch(() => {});
      const childGone = result.then((r) => Promise.reject(new Error(`child ended early: ${JSON.stringify(r)}`)));
      childGone.catch(() => {});
      expect(await Promise.race([started.acquire({ timeout: 30_000 }), childGone])).toBe(true);
      expect(toParent.acquireSync({ timeout: 30_000 })).toBe(true);
      expect(toParent.acquireSync({ timeout: 50 })).toBe(false);
      await sleep(100);
      toChild.release();
      expect(await result).toMatchObject({ code: 0, stderr: '', stdout: 'true\nfalse\n' });
      expect([toParent.getValue(), toChild.getValue()]).toEqual([0, 0]);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      for (const s of [toParent, toChild, started]) {
        s.close();
        s.unlink();
      }
    }
  });

  it('a worker_thread with pending waits can be terminated, and a process exits cleanly with waits pending', async () => {
    const name = uniqueName('async-worker');
    const sem = new Semaphore(0, { name });
    const child = spawnNode(
      `import { Worker } from 'node:worker_threads';
       import { atomics, Semaphore, SharedMemory } from 'posix-mp';
       const name = process.argv[1];
       // The eval'd worker code is a module too (it inherits --input-type=module).
       const worker = new Worker(\`
         import { parentPort } from 'node:worker_threads';
         import { atomics, Semaphore, SharedMemory } from 'posix-mp';
         const sem = Semaphore.open(\${JSON.stringify(name)});
         const shm = new SharedMemory({ size: 64 });
         const view = new Int32Array(shm.buf.buffer);
         for (let i = 0; i < 50; i++) {
           sem.acquire().catch(() => {});
           atomics.waitAsync(view, i % 16, 0).catch(() => {});
         }
         parentPort.postMessage('waiting');\`, { eval: true });
       await new Promise((resolve, reject) => { worker.once('message', resolve); worker.once('error', reject); });
       console.log('terminate ' + await worker.terminate());
       // The worker's waiters are gone: a token released now stays for this thread.
       const sem = Semaphore.open(name);
       sem.release();
       console.log('acquired ' + await sem.acquire({ timeout: 30000 }));
       // Exit while this thread has waits pending: the waiter threads are shut down, no crash, code 0.
       const shm = new SharedMemory({ size: 64 });
       for (let i = 0; i < 20; i++) { sem.acquire().catch(() => {}); atomics.waitAsync(new Int32Array(shm.buf.buffer), 0, 0); }
       setTimeout(() => process.exit(0), 50);`,
      [name],
    );
    try {
      const result = await childResult(child);
      expect(result).toMatchObject({ code: 0, signal: null, stderr: '' });
      expect(result.stdout).toBe('terminate 1\nacquired true\n');
      expect(sem.getValue()).toBe(0);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      sem.close();
      sem.unlink();
    }
  });
});
