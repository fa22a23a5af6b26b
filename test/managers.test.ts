// Manager, SharedList, SharedDict and Namespace: the methods of API.md, values that travel as Queue items
// do, real child processes appending and writing through, unrelated processes opening by name, growth,
// and writers SIGKILLed in the middle of operations (targets in fixtures/managers-targets.mjs).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';

import { Event, Lock, Manager, namespaceDict, Queue, SharedDict, SharedList, Value } from 'posix-mp';
import { binding } from '../lib/internal/native.js';
import { cPeer, finished, runNode, spawnNode, uniqueName, until, waitForLine } from './helpers.js';
import { killChildren, targetsIn } from './targets.js';
// @ts-expect-error -- a JavaScript fixture without types
import { Point } from './fixtures/managers-targets.mjs';

/** Generous: the machine is loaded. */
const LONG = 60_000;
const { start, joined } = targetsIn(new URL('./fixtures/managers-targets.mjs', import.meta.url), LONG);
/** A C process that holds a container's lock until its stdin closes (test/peers/container_lock_peer.c). */
const lockHolder = cPeer('container_lock_peer');

/** This process's Manager objects still in /dev/shm. */
function managerLeftovers(): string[] {
  return readdirSync('/dev/shm').filter((f) => f.includes(`mp-manager-${process.pid}-`));
}

/** The objects of the Managers of process `pid` in /dev/shm. */
function managerFiles(pid: number): string[] {
  return readdirSync('/dev/shm').filter((f) => f.includes(`mp-manager-${pid}-`));
}

/** Fields 3 on of /proc/PID/stat (state, ppid, ...), or undefined once the process is gone. */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** The running guardian processes (dist/guardian.js) whose parent is `pid`. */
function guardiansOf(pid: number): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry) && Number(statFields(Number(entry))?.[1]) === pid)
    .map(Number)
    .filter((child) => running(child) && readFileSync(`/proc/${child}/cmdline`, 'utf8').includes('guardian.js'));
}

/** The guardian of process `pid`, once it runs dist/guardian.js (until then it may still be between fork and exec). */
async function guardianOf(pid: number): Promise<number> {
  await until(() => guardiansOf(pid).length > 0, `a guardian of ${pid}`, { timeout: LONG });
  const guardians = guardiansOf(pid);
  expect(guardians).toHaveLength(1);
  return guardians[0]!;
}

/** Whether `pid` is a process that has not exited (a zombie has). */
function running(pid: number): boolean {
  const state = statFields(pid)?.[0];
  return state !== undefined && state !== 'Z' && state !== 'X';
}

afterAll(() => {
  killChildren();
  expect(managerLeftovers()).toEqual([]);
});

describe('SharedList', () => {
  it('has the methods of a Python list, each on the shared items', () => {
    using list = new SharedList<unknown>([1, 2, 3]);
    list.append('x');
    list.extend([{ a: 1 }, [5]]);
    expect(list.toArray()).toEqual([1, 2, 3, 'x', { a: 1 }, [5]]);
    expect(list.length).toBe(6);
    expect(list.get(-1)).toEqual([5]);
    expect(list.pop(0)).toBe(1);
    expect(list.pop()).toEqual([5]);
    expect(list.index('x')).toBe(2);
    expect(list.count(2)).toBe(1);
    list.insert(1, 'in');
    list.insert(-100, 'first');
    list.insert(100, 'last');
    list.set(0, 'zero');
    list.remove('x');
    expect(list.toArray()).toEqual(['zero', 2, 'in', 3, { a: 1 }, 'last']);
    expect(list.slice(1, 3)).toEqual([2, 'in']);
    expect(list.slice(-2)).toEqual([{ a: 1 }, 'last']);
    expect([...list]).toEqual(list.toArray());
    list.clear();
    expect(list.length).toBe(0);
    list.append('again');
    expect(list.toArray()).toEqual(['again']);
  });

  it('sorts as Python does by default, or by a comparator that may use the list itself', () => {
    using list = new SharedList([3, 1, 2, 10]);
    list.sort();
    expect(list.toArray()).toEqual([1, 2, 3, 10]);
    list.sort((a, b) => b - a + 0 * list.length);
    expect(list.toArray()).toEqual([10, 3, 2, 1]);
  });

  it('sort() commits its order only if the list did not change meanwhile, else sorts again', () => {
    using list = new SharedList([3, 1, 2]);
    let calls = 0;
    list.sort((a, b) => {
      // The first pass sees [3, 1, 2]; a change during it makes sort() start over with the new items.
      if (calls++ === 0) list.append(0);
      return a - b;
    });
    expect(list.toArray()).toEqual([0, 1, 2, 3]);
  });

  it('throws typed errors for missing items and bad arguments', () => {
    using list = new SharedList<number>();
    expect(() => list.pop()).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    list.append(1);
    expect(() => list.get(1)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => list.get(-2)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => list.get(0.5)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => list.remove(7)).toThrow(expect.objectContaining({ code: 'ERR_MP_NOT_FOUND' }));
    expect(() => list.index(7)).toThrow(expect.objectContaining({ code: 'ERR_MP_NOT_FOUND' }));
    expect(() => list.extend(5 as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => list.append((() => 1) as never)).toThrow(expect.objectContaining({ code: 'ERR_MP_NOT_CLONEABLE' }));
    list.close();
    expect(() => list.length).toThrow(expect.objectContaining({ code: 'ERR_MP_CLOSED' }));
  });

  it('grows past its first segment, keeping every item (another handle follows the growth)', () => {
    using list = new SharedList<string>([], { name: uniqueName('grow') });
    using other = SharedList.open<string>(list.name);
    const item = (i: number): string => `${i}:${'x'.repeat(i % 300)}`;
    for (let i = 0; i < 20_000; i++) list.append(item(i));
    expect(other.length).toBe(20_000);
    const all = other.toArray();
    expect(all.every((x, i) => x === item(i))).toBe(true);
    list.unlink();
  });

  it('reuses the memory of removed items: overwriting in a loop does not grow the file', () => {
    using list = new SharedList<string>(['seed'], { name: uniqueName('reuse') });
    for (let i = 0; i < 2000; i++) list.set(0, 'y'.repeat(1000 + (i % 7)));
    const fd = binding.shmOpen(`/${list.name}`, 0, 0).fd;
    try {
      expect(binding.fdSize(fd)).toBe(128 * 1024);
    } finally {
      binding.closeFd(fd);
    }
    list.unlink();
  });
});

describe('SharedDict', () => {
  it('has the methods of a Python dict and a Map, in insertion order', () => {
    using dict = new SharedDict<unknown>({ a: 1, b: [1, 2] });
    dict.set('c', 3).set(5, 'five').set('a', 'A');
    expect(dict.entries()).toEqual([
      ['a', 'A'],
      ['b', [1, 2]],
      ['c', 3],
      [5, 'five'],
    ]);
    expect(dict.size).toBe(4);
    expect(dict.get('b')).toEqual([1, 2]);
    expect(dict.get('none')).toBeUndefined();
    expect(dict.has(5)).toBe(true);
    expect(dict.has('5')).toBe(false);
    expect(dict.delete('c')).toBe(true);
    expect(dict.delete('c')).toBe(false);
    expect(dict.keys()).toEqual(['a', 'b', 5]);
    expect(dict.values()).toEqual(['A', [1, 2], 'five']);
    expect(dict.pop('a')).toBe('A');
    expect(dict.pop('a', 'dflt')).toBe('dflt');
    expect(() => dict.pop('a')).toThrow(expect.objectContaining({ code: 'ERR_MP_NOT_FOUND' }));
    expect(dict.setdefault('b', 'no')).toEqual([1, 2]);
    expect(dict.setdefault('d', 'yes')).toBe('yes');
    dict.update(new Map([['e', 1]]));
    dict.update([['f', 2]]);
    dict.update({ g: 3 });
    expect(dict.toObject()).toEqual({ 5: 'five', b: [1, 2], d: 'yes', e: 1, f: 2, g: 3 });
    expect([...dict]).toEqual(dict.entries());
    expect(dict.get(-0 as number)).toBeUndefined();
    dict.set(0, 'zero');
    expect(dict.get(-0)).toBe('zero');
    dict.clear();
    expect(dict.size).toBe(0);
    dict.set('after', 1);
    expect(dict.toObject()).toEqual({ after: 1 });
    expect(() => dict.set({} as never, 1)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
  });

  it('keeps every entry through many inserts, deletes and table rebuilds', () => {
    using dict = new SharedDict<number>();
    const model = new Map<string, number>();
    for (let i = 0; i < 20_000; i++) {
      const key = `k${(i * 7) % 5000}`;
      if (i % 3 === 2) {
        expect(dict.delete(key)).toBe(model.delete(key));
      } else {
        dict.set(key, i);
        model.set(key, i);
      }
    }
    expect(dict.size).toBe(model.size);
    expect(new Map(dict.entries() as Array<[string, number]>)).toEqual(model);
  });

  it('stores shared objects by name and class instances with their class; refuses anonymous objects', () => {
    using manager = new Manager();
    const dict = manager.dict();
    const lock = manager.Lock();
    dict.set('lock', lock);
    dict.set('point', new Point(3, 4));
    const back = dict.get('lock') as Lock;
    expect(back).toBeInstanceOf(Lock);
    expect(back.name).toBe(lock.name);
    lock.acquireSync();
    expect(back.locked()).toBe(true);
    lock.release();
    back.close();
    // (The test's own import of the fixture is another module instance than the one decoding loads.)
    const point = dict.get('point') as { norm(): number };
    expect(point.constructor.name).toBe('Point');
    expect(point.norm()).toBe(5);
    using anonymous = new Value('i', 1);
    expect(() => dict.set('v', anonymous)).toThrow(
      expect.objectContaining({ code: 'ERR_MP_NOT_CLONEABLE', message: expect.stringContaining('Give it a name') }),
    );
  });

  it('holds other containers as handles: a dict of lists works as in Python', () => {
    using manager = new Manager();
    const dict = manager.dict<SharedList<number>>();
    const a = manager.list([1]);
    dict.set('a', a);
    expect(dict.get('a')).toBe(a);
    dict.get('a')!.append(2);
    dict.get('a')!.append(3);
    expect(dict.get('a')!.toArray()).toEqual([1, 2, 3]);
    // Once this process's handle is closed, a read opens a new one, and returns that one from then on.
    a.close();
    const reopened = dict.get('a')!;
    expect(reopened.closed).toBe(false);
    expect(reopened.toArray()).toEqual([1, 2, 3]);
    expect(dict.get('a')).toBe(reopened);
    reopened.close();
  });
});

describe('Manager', () => {
  it("runs the seeds' program: processes append to manager.list(), the parent prints it", async () => {
    using manager = new Manager();
    const lst = manager.list<number>();
    const ps = [0, 1, 2].map((i) => start('appendOne', [lst, i]));
    for (const p of ps) await joined(p);
    expect(lst.toArray().sort()).toEqual([0, 1, 2]);
  });

  it('makes the shared objects of Python’s manager, and shutdown() removes them all', () => {
    const manager = new Manager();
    const objects = [
      manager.Lock(),
      manager.RLock(),
      manager.Semaphore(2),
      manager.BoundedSemaphore(1),
      manager.Condition(),
      manager.Event(),
      manager.Barrier(2),
      manager.Value('i', 7),
      manager.Array('d', [1, 2]),
      manager.list(),
      manager.dict(),
      manager.Queue(),
      manager.JoinableQueue(),
    ];
    expect(objects.map((o) => o.constructor.name)).toEqual([
      'Lock',
      'RLock',
      'Semaphore',
      'BoundedSemaphore',
      'Condition',
      'Event',
      'Barrier',
      'Value',
      'SharedArray',
      'SharedList',
      'SharedDict',
      'Queue',
      'JoinableQueue',
    ]);
    const queue = objects[11] as ReturnType<Manager['Queue']>;
    queue.putSync('item');
    expect(queue.getSync()).toBe('item');
    expect(managerLeftovers().length).toBeGreaterThan(0);
    manager.shutdown();
    expect(managerLeftovers()).toEqual([]);
    expect(objects.every((o) => o.closed)).toBe(true);
    expect(() => manager.list()).toThrow(expect.objectContaining({ code: 'ERR_MP_CLOSED' }));
  });

  it("removes its objects when its process exits without shutdown()", async () => {
    const code = `
      import { Manager } from 'posix-mp';
      const managers = [new Manager(), new Manager()];
      console.log(managers.map((m) => [m.list([1]).name, m.Lock().name]).flat().join(' '));`;
    const result = await runNode(code);
    expect(result.stderr).toBe('');
    const names = result.stdout.trim().split(' ');
    expect(names).toHaveLength(4);
    expect(readdirSync('/dev/shm').filter((f) => names.includes(f))).toEqual([]);
  });

  it('a SIGKILLed process leaves none of its Managers\' objects in /dev/shm; processes that have them open keep using them', async () => {
    const given = uniqueName('given');
    const code = `
      import { Manager } from 'posix-mp';
      const manager = new Manager();
      const list = manager.list([1]);
      const queue = manager.Queue();
      queue.putSync('kept');
      manager.dict({ a: 1 });
      manager.Lock();
      manager.Semaphore(1);
      manager.Namespace({ x: 1 }, { name: process.argv[1] });
      console.log(JSON.stringify({ list: list.name, queue: queue.name }));
      setInterval(() => {}, 1000);`;
    const child = spawnNode(code, [given]);
    const done = finished(child);
    try {
      const names = JSON.parse(await waitForLine(child, /^\{/)) as { list: string; queue: string };
      const pid = child.pid!;
      expect(managerFiles(pid).sort()).toEqual(expect.arrayContaining([names.list, names.queue, expect.stringMatching(/^sem\./)]));
      expect(managerFiles(pid)).toHaveLength(5);
      expect(existsSync(`/dev/shm/${given}`)).toBe(true);
      const guardian = await guardianOf(pid);
      using list = SharedList.open<number>(names.list);
      using queue = Queue.open<string>(names.queue);
      child.kill('SIGKILL');
      expect((await done).signal).toBe('SIGKILL');
      await until(() => managerFiles(pid).length === 0 && !existsSync(`/dev/shm/${given}`), 'the guardian unlinking them', {
        timeout: LONG,
        explain: () => managerFiles(pid),
      });
      list.append(2);
      expect(list.toArray()).toEqual([1, 2]);
      expect(queue.getSync({ timeout: 0 })).toBe('kept');
      await until(() => !running(guardian), 'the guardian exiting', { timeout: LONG });
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('one guardian serves every Manager of a process; exit and shutdown() leave nothing, nor the guardian', async () => {
    const code = `
      import { Manager } from 'posix-mp';
      const first = new Manager();
      first.list([1]);
      first.shutdown();
      const second = new Manager();
      const kept = second.dict({ a: 1 });
      new Manager().Lock();
      console.log(kept.name);
      // Exits normally once its stdin closes: neither the guardian nor its pipe keeps the event loop alive.
      process.stdin.once('end', () => {}).resume();`;
    const child = spawnNode(code);
    const done = finished(child);
    try {
      await waitForLine(child, /mp-manager/);
      const pid = child.pid!;
      expect(managerFiles(pid)).toHaveLength(2);
      const guardian = await guardianOf(pid);
      child.stdin!.end();
      const result = await done;
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(managerFiles(pid)).toEqual([]);
      await until(() => !running(guardian), 'the guardian exiting', { timeout: LONG });
    } finally {
      child.kill('SIGKILL');
    }
  });

  it("children of the killed process, forked or spawned, do not hold the guardian's pipe open", async () => {
    const code = `
      import { spawn } from 'node:child_process';
      import { Event, Manager, Process } from 'posix-mp';
      new Manager().list([1]);
      const ready = new Event();
      const p = new Process({ target: { module: process.argv[1], export: 'hold' }, args: [ready] });
      p.start();
      ready.waitSync();
      const sleeper = spawn('sleep', ['120'], { stdio: 'ignore' });
      console.log(JSON.stringify([p.pid, sleeper.pid]));
      setInterval(() => {}, 1000);`;
    const child = spawnNode(code, [new URL('./fixtures/managers-targets.mjs', import.meta.url).href]);
    const done = finished(child);
    let children: number[] = [];
    try {
      children = JSON.parse(await waitForLine(child, /^\[/)) as number[];
      const pid = child.pid!;
      expect(managerFiles(pid)).toHaveLength(1);
      child.kill('SIGKILL');
      await done;
      // Had either child inherited the pipe's write end, the guardian would see no EOF while it lives.
      await until(() => managerFiles(pid).length === 0, 'the guardian unlinking the list', { timeout: 30_000 });
      // Both still run (a non-daemon Process outlives its parent, as in Python).
      expect(children.filter(running)).toHaveLength(2);
    } finally {
      child.kill('SIGKILL');
      for (const grandchild of children) if (running(grandchild)) process.kill(grandchild, 'SIGKILL');
    }
  });

  it('a Process child killed with its Manager leaves nothing either (forked children start their own guardian)', async () => {
    using names = new SharedList<string>();
    using ready = new Event();
    const p = start('manageThenHold', [names, ready]);
    expect(await ready.wait({ timeout: LONG })).toBe(true);
    const [name] = names.toArray();
    expect(existsSync(`/dev/shm/${name}`)).toBe(true);
    p.kill();
    await p.join(LONG);
    await until(() => !existsSync(`/dev/shm/${name}`), 'the guardian unlinking the list', { timeout: LONG });
  });

  it('the guardian removes only what a Manager owns: not a name given up at shutdown(), nor one it failed to take', async () => {
    const [reused, taken] = [uniqueName('reused'), uniqueName('taken')];
    const code = `
      import { Lock, Manager, SharedList } from 'posix-mp';
      const [reused, taken] = process.argv.slice(1);
      const manager = new Manager();
      manager.list([1], { name: reused });
      manager.shutdown();
      // Not the manager's any more: another object under the same name.
      new SharedList([2], { name: reused });
      // A name that holds a Lock cannot be a manager's list.
      new Lock({ name: taken });
      try {
        new Manager().list([], { name: taken });
      } catch (error) {
        console.log(error.code);
      }`;
    const child = spawnNode(code + "\nsetInterval(() => {}, 1000);", [reused, taken]);
    const done = finished(child);
    try {
      await waitForLine(child, /ERR_MP_WRONG_KIND/);
      const guardian = await guardianOf(child.pid!);
      child.kill('SIGKILL');
      await done;
      await until(() => !running(guardian), 'the guardian exiting', { timeout: LONG });
      using list = SharedList.open<number>(reused);
      expect(list.toArray()).toEqual([2]);
      list.unlink();
      using lock = Lock.open(taken);
      lock.unlink();
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('a guardian that dies is replaced at the next registration, and told everything still registered', async () => {
    const code = `
      import { Manager } from 'posix-mp';
      const first = new Manager();
      first.list([1]);
      console.log('first');
      process.stdin.once('data', () => {
        const second = new Manager();
        console.log(second.Lock().name);
        setInterval(() => {}, 1000);
      });`;
    const child = spawnNode(code);
    const done = finished(child);
    try {
      await waitForLine(child, /first/);
      const pid = child.pid!;
      const dead = await guardianOf(pid);
      process.kill(dead, 'SIGKILL');
      await until(() => !running(dead), 'the first guardian dying', { timeout: LONG });
      child.stdin!.write('go\n');
      await waitForLine(child, /mp-manager/);
      expect(await guardianOf(pid)).not.toBe(dead);
      expect(managerFiles(pid)).toHaveLength(2);
      child.kill('SIGKILL');
      await done;
      await until(() => managerFiles(pid).length === 0, 'the second guardian unlinking both managers\' objects', {
        timeout: LONG,
        explain: () => managerFiles(pid),
      });
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('Namespace properties read and write through, from a child too', async () => {
    using manager = new Manager();
    const ns = manager.Namespace({ fromParent: 41 });
    const dict = manager.dict();
    expect(ns.fromParent).toBe(41);
    const p = start('writeThrough', [ns, dict]);
    await joined(p);
    expect(ns.x).toBe(1);
    expect(ns.seen).toBe(42);
    expect(Object.keys(ns).sort()).toEqual(['fromParent', 'seen', 'x']);
    expect('x' in ns).toBe(true);
    delete ns.x;
    expect('x' in ns).toBe(false);
    expect({ ...ns }).toEqual({ fromParent: 41, seen: 42 });
    expect(namespaceDict(ns).get('seen')).toBe(42);
    expect((dict.get('point') as { norm(): number }).norm()).toBe(5);
  });

  it('a dict of lists, appended to by children through the dict', async () => {
    using manager = new Manager();
    const d = manager.dict<SharedList<number>>();
    d.set('evens', manager.list());
    d.set('odds', manager.list());
    const ps = [0, 1, 2, 3].map((i) => start('appendToNested', [d, i % 2 ? 'odds' : 'evens', i]));
    for (const p of ps) await joined(p);
    expect(d.get('evens')!.toArray().sort()).toEqual([0, 2]);
    expect(d.get('odds')!.toArray().sort()).toEqual([1, 3]);
  });

  it('4 processes appending 2,500 items each to one list: the exact count, every item once', async () => {
    using manager = new Manager();
    const lst = manager.list<number>();
    const ps = [0, 1, 2, 3].map((i) => start('appendMany', [lst, i * 2500, 2500]));
    for (const p of ps) await joined(p);
    const all = lst.toArray();
    expect(all.length).toBe(10_000);
    expect(new Set(all).size).toBe(10_000);
  });
});

describe('named and anonymous containers', () => {
  it('open by name from an unrelated process', async () => {
    using dict = new SharedDict<unknown>({ from: 'parent' }, { name: uniqueName('dict') });
    using list = new SharedList<number>([1], { name: uniqueName('list') });
    const code = `
      import { SharedDict, SharedList } from 'posix-mp';
      const [dictName, listName] = process.argv.slice(1);
      const d = SharedDict.open(dictName);
      const l = SharedList.open(listName);
      d.set('from', 'child:' + d.get('from'));
      l.append(2);
      console.log(JSON.stringify(l.toArray()));`;
    const result = await runNode(code, [dict.name, list.name]);
    expect(result.stderr).toBe('');
    expect(result.stdout.trim()).toBe('[1,2]');
    expect(dict.get('from')).toBe('child:parent');
    expect(() => SharedList.open(dict.name)).toThrow(expect.objectContaining({ code: 'ERR_MP_WRONG_KIND' }));
    expect(() => SharedDict.open(uniqueName('none'))).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    dict.unlink();
    list.unlink();
  });

  it('anonymous ones travel to children with their memory and never appear in /dev/shm', async () => {
    using list = new SharedList<number>();
    // Enough items that the child grows the file: the parent follows through its own descriptor.
    const p = start('appendMany', [list, 0, 20_000]);
    await joined(p);
    expect(list.length).toBe(20_000);
    expect(list.get(19_999)).toBe(19_999);
    // Neither under its generated name nor under any anonymous name of this process's or the child's.
    expect(readdirSync('/dev/shm').filter((f) => [list.name, `mp-${process.pid}-`, `mp-${p.pid}-`].some((n) => f.includes(n)))).toEqual([]);
  });
});

describe('crash consistency', () => {
  it('writers SIGKILLed in the middle of operations leave both containers consistent and usable', async () => {
    using manager = new Manager();
    const lst = manager.list<{ n: number; pad: string }>();
    const d = manager.dict<{ n: number; pad: string }>();
    const whole = (r: { n: number; pad: string }): boolean => r.pad === String(r.n).repeat(1 + (r.n % 50));
    for (let round = 0; round < 20; round++) {
      using ready = new Event();
      const p = start('churn', [lst, d, ready]);
      expect(await ready.wait({ timeout: LONG })).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 5 + ((round * 37) % 60)));
      p.kill();
      await p.join(LONG);
      expect(p.exitCode).toBe(-9);
      // Everything reads back whole, and both containers accept writes again.
      const items = lst.toArray();
      expect(items.length).toBe(lst.length);
      expect(items.every(whole)).toBe(true);
      const entries = d.entries();
      expect(entries.length).toBe(d.size);
      expect(new Set(entries.map(([k]) => k)).size).toBe(entries.length);
      for (const [key, value] of entries) {
        expect(whole(value)).toBe(true);
        expect(key).toBe(`${String(key)[0]}${value.n}`);
        expect(d.get(key)).toEqual(value);
      }
      lst.append({ n: 7, pad: '77777777' });
      expect(lst.get(-1)).toEqual({ n: 7, pad: '77777777' });
      d.set('k7', { n: 7, pad: '77777777' });
      expect(d.get('k7')).toEqual({ n: 7, pad: '77777777' });
    }
  }, 240_000);

  it('an operation committed by a writer that died before applying it is applied by the next holder', () => {
    using list = new SharedList<string>(['a', 'b', 'c']);
    // What heap.ts's Txn.commit leaves when its process dies right after the commit point: the journal
    // (word 64 on) holds "LENGTH (word 15) := 2" and JOURNAL_COUNT (word 14) is 1, not yet applied.
    const words = new Uint32Array(binding.map((list as unknown as { heap: { fd: number } }).heap.fd, 4096));
    words[64] = 15;
    words[65] = 2;
    Atomics.store(words, 14, 1);
    expect(list.toArray()).toEqual(['a', 'b']);
    expect(words[14]).toBe(0);
    binding.unmap(words.buffer as ArrayBuffer);
  });
});

describe('async forms', () => {
  /** What an operation gave: its value, or its error's code; the container itself as 'self'. */
  function outcome(container: object, run: () => unknown): unknown {
    try {
      const value = run();
      return value === container ? 'self' : { value };
    } catch (error) {
      return { code: (error as { code?: string }).code };
    }
  }

  async function outcomeAsync(container: object, run: () => Promise<unknown>): Promise<unknown> {
    try {
      const value = await run();
      return value === container ? 'self' : { value };
    } catch (error) {
      return { code: (error as { code?: string }).code };
    }
  }

  /** Runs each [operation, args] on `a` synchronously and on `b` through its async form: the same outcomes. */
  async function sameOutcomes(a: object, b: object, ops: Array<[string, unknown[]]>): Promise<void> {
    const on = (c: object, op: string): unknown => (c as Record<string, unknown>)[op];
    for (const [op, args] of ops) {
      const sync = outcome(a, () => {
        const member = on(a, op);
        return typeof member === 'function' ? (member as (...x: unknown[]) => unknown).apply(a, args) : member;
      });
      const form = on(b, `${op}Async`) as (...x: unknown[]) => Promise<unknown>;
      expect({ op, args, outcome: await outcomeAsync(b, () => form.apply(b, args)) }).toEqual({ op, args, outcome: sync });
    }
  }

  it('every operation of a SharedList has an async form that gives what the synchronous one gives', async () => {
    using a = new SharedList<unknown>([3, 1, 2]);
    using b = new SharedList<unknown>([3, 1, 2]);
    await sameOutcomes(a, b, [
      ['append', ['x']],
      ['extend', [[{ k: 1 }, [5]]]],
      ['insert', [1, 'in']],
      ['length', []],
      ['get', [-1]],
      ['get', [99]],
      ['set', [0, 'zero']],
      ['index', ['x']],
      ['count', [2]],
      ['remove', ['x']],
      ['remove', ['missing']],
      ['pop', []],
      ['pop', [0]],
      ['slice', [1, 3]],
      ['toArray', []],
      ['clear', []],
      ['extend', [[3, 1, 2]]],
      ['sort', []],
      ['sort', [(x: number, y: number) => y - x]],
      ['toArray', []],
      ['pop', [7]],
    ]);
    // Options come after the operation's own parameters, optional ones included.
    const iterated: unknown[] = [];
    for await (const item of b) iterated.push(item);
    expect(iterated).toEqual(a.toArray());
    expect(await b.popAsync(undefined, { timeout: 1000 })).toBe(1);
    expect(await b.sliceAsync(undefined, undefined, { signal: new AbortController().signal })).toEqual([3, 2]);
    await expect(b.appendAsync(1, { timeout: -1 })).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    b.close();
    await expect(b.lengthAsync()).rejects.toMatchObject({ code: 'ERR_MP_CLOSED' });
  });

  it('every operation of a SharedDict has an async form that gives what the synchronous one gives', async () => {
    using a = new SharedDict<unknown>({ a: 1 });
    using b = new SharedDict<unknown>({ a: 1 });
    await sameOutcomes(a, b, [
      ['set', ['b', [1, 2]]],
      ['set', [5, 'five']],
      ['get', ['b']],
      ['get', ['none']],
      ['has', [5]],
      ['has', ['5']],
      ['size', []],
      ['delete', ['a']],
      ['delete', ['a']],
      ['pop', ['b']],
      ['pop', ['b']],
      ['pop', ['b', 'dflt']],
      ['setdefault', ['c', 3]],
      ['setdefault', ['c', 4]],
      ['update', [{ d: 4, e: 5 }]],
      ['keys', []],
      ['values', []],
      ['entries', []],
      ['toObject', []],
      ['clear', []],
      ['size', []],
      ['set', [{}, 1]],
    ]);
    await b.updateAsync({ x: 1, y: 2 });
    const iterated: unknown[] = [];
    for await (const entry of b) iterated.push(entry);
    expect(iterated).toEqual([
      ['x', 1],
      ['y', 2],
    ]);
    expect(await b.popAsync('none', 'dflt', { timeout: 1000 })).toBe('dflt');
    // A namespace's properties stay synchronous; its dict has the async forms.
    using manager = new Manager();
    const ns = manager.Namespace({ x: 1 });
    expect(await namespaceDict(ns).getAsync('x')).toBe(1);
  });

  it('while another process holds the lock, async operations leave the event loop running, and complete once it is released', async () => {
    using list = new SharedList<number>([1], { name: uniqueName('held') });
    using other = SharedList.open<number>(list.name);
    const holder = lockHolder.start([list.name, 'list']);
    const done = finished(holder);
    try {
      await waitForLine(holder, /held/);
      let settled = false;
      const appended = list.appendAsync(2).then(() => (settled = true));
      const popped = list.popAsync(0);
      let ticks = 0;
      const timer = setInterval(() => ticks++, 1);
      await until(() => ticks >= 20, 'a timer firing while the operations wait');
      clearInterval(timer);
      expect(settled).toBe(false);
      // A timeout, an abort and a close() end the wait of an operation that never ran.
      await expect(list.getAsync(0, { timeout: 20 })).rejects.toMatchObject({ code: 'ERR_MP_TIMEOUT' });
      const controller = new AbortController();
      const aborted = list.appendAsync(-1, { signal: controller.signal });
      controller.abort();
      await expect(aborted).rejects.toMatchObject({ name: 'AbortError' });
      const closed = other.appendAsync(-2);
      other.close();
      await expect(closed).rejects.toMatchObject({ code: 'ERR_MP_CLOSED' });
      holder.stdin!.end();
      await waitForLine(holder, /released/);
      // Async operations never hold the lock while their result travels to JS: a synchronous one runs at once.
      expect(list.count(1)).toBeLessThanOrEqual(1);
      await appended;
      expect(await popped).toBe(1);
      expect(list.toArray()).toEqual([2]);
      expect((await done).code).toBe(0);
    } finally {
      holder.kill('SIGKILL');
      list.unlink();
    }
  });

  it('an async operation takes the lock over from a holder killed while holding it', async () => {
    using dict = new SharedDict<number>({ a: 1 }, { name: uniqueName('killed') });
    const holder = lockHolder.start([dict.name, 'dict']);
    const done = finished(holder);
    try {
      await waitForLine(holder, /held/);
      const set = dict.setAsync('b', 2);
      holder.kill('SIGKILL');
      await done;
      await set;
      expect(dict.toObject()).toEqual({ a: 1, b: 2 });
      dict.set('c', 3);
      expect(await dict.sizeAsync()).toBe(3);
    } finally {
      holder.kill('SIGKILL');
      dict.unlink();
    }
  });
});
