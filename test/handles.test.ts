// What every shared-object class has from SharedHandle (lib/shared/handle.ts): name, closed, ERR_MP_CLOSED
// after close(), Symbol.dispose, one inspect format; and the message of passing a lock from getLock().
import { inspect } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

import {
  activeChildren,
  Array as MpArray,
  Barrier,
  BoundedSemaphore,
  Condition,
  Event,
  JoinableQueue,
  Lock,
  Process,
  Queue,
  RLock,
  Semaphore,
  SharedMemory,
  SimpleQueue,
  Value,
} from 'posix-mp';
import { uniqueName } from './helpers.js';

/** inspect output on one line (inspect breaks long ones). */
function shown(value: unknown): string {
  return inspect(value).replace(/\s+/g, ' ');
}

afterAll(() => {
  for (const p of activeChildren()) p.kill();
});

/** One of each class, anonymous, with a method that needs the handle open. */
const HANDLES: [string, () => { name: string; closed: boolean; close(): void; [Symbol.dispose](): void }, (h: never) => unknown][] = [
  ['Lock', () => new Lock(), (h: Lock) => h.locked()],
  ['RLock', () => new RLock(), (h: RLock) => h.locked()],
  ['Semaphore', () => new Semaphore(2), (h: Semaphore) => h.getValue()],
  ['BoundedSemaphore', () => new BoundedSemaphore(2), (h: BoundedSemaphore) => h.getValue()],
  ['Event', () => new Event(), (h: Event) => h.isSet()],
  ['Condition', () => new Condition(), (h: Condition) => h.acquireSync()],
  ['Barrier', () => new Barrier(2), (h: Barrier) => h.nWaiting],
  ['Value', () => new Value('i', 7), (h: Value) => h.value],
  ['SharedArray', () => new MpArray('i', [1, 2]), (h: MpArray) => h.get(0)],
  ['SharedMemory', () => new SharedMemory({ size: 16 }), (h: SharedMemory) => h.buf],
  ['Queue', () => new Queue(), (h: Queue) => h.qsize()],
  ['JoinableQueue', () => new JoinableQueue(), (h: JoinableQueue) => h.unfinishedTasks()],
  ['SimpleQueue', () => new SimpleQueue(), (h: SimpleQueue) => h.putSync(1)],
];

describe('SharedHandle: the same handle behaviour in every class', () => {
  it.each(HANDLES)('%s: closed, ERR_MP_CLOSED after close(), close() twice, inspect before and after', (cls, create, use) => {
    const handle = create();
    expect(handle.name).toMatch(/^mp-\d+-[0-9a-f]{12}$/);
    expect(handle.closed).toBe(false);
    use(handle as never);
    expect(shown(handle)).toMatch(new RegExp(`^${cls} \\{ name: '${handle.name}', closed: false(, |\\s*\\}$)`));
    handle.close();
    expect(handle.closed).toBe(true);
    expect(() => use(handle as never)).toThrow(expect.objectContaining({ code: 'ERR_MP_CLOSED' }));
    handle.close();
    expect(shown(handle)).toBe(`${cls} { name: '${handle.name}', closed: true }`);
  });

  it.each(HANDLES)('%s: `using` closes it', (_cls, create) => {
    let seen: { closed: boolean } | undefined;
    {
      using handle = create();
      seen = handle;
      expect(seen.closed).toBe(false);
    }
    expect(seen.closed).toBe(true);
  });

  it('inspect shows the state of each kind', () => {
    using lock = new Lock();
    lock.acquireSync();
    expect(shown(lock)).toBe(`Lock { name: '${lock.name}', closed: false, locked: true }`);
    lock.release();
    using event = new Event();
    event.set();
    expect(shown(event)).toBe(`Event { name: '${event.name}', closed: false, isSet: true }`);
    using sem = new BoundedSemaphore(3);
    expect(shown(sem)).toBe(`BoundedSemaphore { name: '${sem.name}', closed: false, value: 3, bound: 3 }`);
    using value = new Value('c', 'a');
    expect(shown(value)).toBe(`Value { name: '${value.name}', closed: false, typecode: 'c', value: 'a' }`);
    using array = new MpArray('d', [0.5, 2]);
    expect(shown(array)).toBe(`SharedArray { name: '${array.name}', closed: false, typecode: 'd', values: [ 0.5, 2 ] }`);
    using barrier = new Barrier(3);
    expect(shown(barrier)).toBe(`Barrier { name: '${barrier.name}', closed: false, parties: 3, nWaiting: 0, broken: false }`);
    using queue = new Queue(5);
    queue.putSync('x');
    expect(shown(queue)).toBe(`Queue { name: '${queue.name}', closed: false, qsize: 1, maxsize: 5 }`);
  });

  it('named objects: unlink() removes the name, whatever the class', () => {
    const lock = new Lock({ name: uniqueName('handle-lock') });
    const value = new Value('i', 1, { name: uniqueName('handle-value') });
    const queue = new Queue(0, { name: uniqueName('handle-queue') });
    for (const handle of [lock, value, queue]) {
      handle.close();
      handle.unlink();
      expect(() => Lock.open(handle.name)).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    }
  });
});

describe('passing the lock of a Value to a child process', () => {
  it('says what was passed and what to pass instead, without naming internal segments', () => {
    using v = new Value('i', 0);
    const p = new Process({
      target: { module: new URL('./fixtures/transfer-targets.mjs', import.meta.url), export: 'notifyCondition' },
      args: [v.getLock()],
    });
    let thrown: unknown;
    try {
      p.start();
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toMatchObject({ code: 'ERR_MP_TRANSFER' });
    const message = (thrown as Error).message;
    expect(message).toContain("the lock from a Value's getLock()");
    expect(message).toContain('pass the Value itself (its lock travels with it)');
    expect(message).not.toContain(v.name);
  });
});
