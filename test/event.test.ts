// Event: set in one process wakes waiters in another (sync and async, Node and C), timeouts, aborts,
// closes, names and typed errors.
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';

import { Event, Lock } from 'posix-mp';
import { finished, runNode, sleep, spawnNode, uniqueName, waitForLine } from './helpers.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const fn of cleanups.splice(0).reverse()) fn();
});

function namedEvent(tag: string): Event {
  const event = new Event({ name: uniqueName(tag) });
  cleanups.push(() => {
    event.close();
    event.unlink();
    expect(existsSync(`/dev/shm/${event.name}`)).toBe(false);
  });
  return event;
}

describe('Event', () => {
  it('set / clear / isSet, and a wait on a set event returns true at once', async () => {
    const event = new Event();
    cleanups.push(() => event.close());
    expect(event.isSet()).toBe(false);
    expect(event.waitSync({ timeout: 0 })).toBe(false);
    expect(await event.wait({ timeout: 0 })).toBe(false);
    event.set();
    event.set();
    expect(event.isSet()).toBe(true);
    expect(event.waitSync()).toBe(true);
    expect(await event.wait()).toBe(true);
    event.clear();
    expect(event.isSet()).toBe(false);
  });

  it('wait with a timeout returns false (sync and async)', async () => {
    const event = new Event();
    cleanups.push(() => event.close());
    let start = performance.now();
    expect(event.waitSync({ timeout: 100 })).toBe(false);
    expect(performance.now() - start).toBeGreaterThanOrEqual(95);
    start = performance.now();
    expect(await event.wait({ timeout: 100 })).toBe(false);
    expect(performance.now() - start).toBeGreaterThanOrEqual(95);
  });

  it('set in another process wakes an async waiter and a blocked (sync) waiter here', async () => {
    const event = namedEvent('event-wake');
    const setter = `import { Event } from 'posix-mp';
       const [name, delay] = process.argv.slice(1);
       setTimeout(() => { const e = Event.open(name); e.set(); e.close(); }, Number(delay));`;
    const pending = event.wait({ timeout: 30_000 });
    const child = await runNode(setter, [event.name, '100']);
    expect(child.stderr).toBe('');
    expect(await pending).toBe(true);

    event.clear();
    const exited = finished(spawnNode(setter, [event.name, '300']));
    // Blocks this thread until the child sets the event.
    expect(event.waitSync({ timeout: 30_000 })).toBe(true);
    expect((await exited).code).toBe(0);
  });

  it('set here wakes sync and async waiters in other processes', async () => {
    const event = namedEvent('event-remote');
    const waiter = `import { Event } from 'posix-mp';
       const [name, mode] = process.argv.slice(1);
       const e = Event.open(name);
       console.log('waiting');
       const r = mode === 'sync' ? e.waitSync({ timeout: 30000 }) : await e.wait({ timeout: 30000 });
       console.log('result', r);`;
    const children = ['sync', 'async', 'sync', 'async'].map((mode) => spawnNode(waiter, [event.name, mode]));
    const results = children.map((c) => finished(c));
    await Promise.all(children.map((c) => waitForLine(c, /^waiting$/)));
    await sleep(200);
    event.set();
    for (const r of await Promise.all(results)) {
      expect(r.stderr).toBe('');
      expect(r.stdout).toContain('result true');
    }
  });

  it('is set by a C program through posix_mp.h (pmp_open + pmp_event_set)', async () => {
    const event = namedEvent('event-c');
    const root = fileURLToPath(new URL('..', import.meta.url));
    const dir = mkdtempSync(path.join(tmpdir(), 'pmp-event-c-'));
    try {
      const source = path.join(dir, 'set.c');
      writeFileSync(
        source,
        `#include <posix_mp.h>
         int main(int argc, char** argv) {
           (void)argc;
           size_t size;
           void* base = pmp_open(argv[1], PMP_KIND_EVENT, &size);
           if (base == NULL) { perror("pmp_open"); return 1; }
           pmp_event* event = (pmp_event*)pmp_payload(base);
           struct timespec deadline;
           clock_gettime(CLOCK_MONOTONIC, &deadline);
           deadline.tv_sec += 30;
           if (!pmp_event_wait(event, &deadline)) return 2; /* Node sets it first */
           pmp_event_clear(event);
           usleep(100000);
           pmp_event_set(event);
           return 0;
         }`,
      );
      const binary = path.join(dir, 'set');
      await promisify(execFile)('gcc', ['-Wall', '-Wextra', '-Werror', '-I', path.join(root, 'native/include'), source, '-o', binary]);
      const exited = finished(spawn(binary, [event.name], { stdio: ['ignore', 'pipe', 'pipe'] }));
      event.set();
      // The C program clears it, then sets it again: wait for the clear, then for the set.
      const deadline = Date.now() + 30_000;
      while (event.isSet() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 1));
      expect(await event.wait({ timeout: 30_000 })).toBe(true);
      const result = await exited;
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an aborted wait rejects with the reason; a pre-aborted signal rejects at once', async () => {
    const event = new Event();
    cleanups.push(() => event.close());
    const controller = new AbortController();
    const pending = event.wait({ signal: controller.signal });
    setTimeout(() => controller.abort(), 20);
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
    await expect(event.wait({ signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError' });
    event.set();
    await expect(event.wait({ signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError' });
    expect(await event.wait({ signal: new AbortController().signal })).toBe(true);
  });

  it('close rejects pending waits with ERR_MP_CLOSED; a closed handle throws', async () => {
    const event = namedEvent('event-close');
    const other = Event.open(event.name);
    const pending = other.wait();
    other.close();
    other.close();
    expect(other.closed).toBe(true);
    await expect(pending).rejects.toMatchObject({ code: 'ERR_MP_CLOSED' });
    const closed = expect.objectContaining({ code: 'ERR_MP_CLOSED' });
    expect(() => other.set()).toThrow(closed);
    expect(() => other.clear()).toThrow(closed);
    expect(() => other.isSet()).toThrow(closed);
    expect(() => other.waitSync()).toThrow(closed);
    await expect(other.wait()).rejects.toMatchObject({ code: 'ERR_MP_CLOSED' });
    // The object itself is intact.
    event.set();
    expect(event.isSet()).toBe(true);
  });

  it('names: open-or-create, exclusive, open, wrong kind; typed errors for bad input', async () => {
    const event = namedEvent('event-names');
    const same = new Event({ name: event.name });
    event.set();
    expect(same.isSet()).toBe(true);
    same.close();
    expect(() => new Event({ name: event.name, exclusive: true })).toThrow(expect.objectContaining({ code: 'EEXIST' }));
    expect(() => Event.open(uniqueName('missing'))).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    const lockName = uniqueName('event-lock');
    const lock = new Lock({ name: lockName });
    try {
      expect(() => Event.open(lockName)).toThrow(expect.objectContaining({ code: 'ERR_MP_WRONG_KIND' }));
    } finally {
      lock.close();
      lock.unlink();
    }
    expect(() => new Event({ name: '' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => new Event({ name: 'a/b' })).toThrow(TypeError);
    expect(() => new Event(7 as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => Event.open(3 as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => event.waitSync({ timeout: -1 })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => event.waitSync('soon' as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    await expect(event.wait({ timeout: 'x' as never })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    await expect(event.wait({ signal: 'x' as never })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
  });
});
