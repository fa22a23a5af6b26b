// The posix-mp command (dist/cli.js) on real objects in /dev/shm: ls names each object's kind, creator and
// users; gc finds the objects of a SIGKILLed program (every kind: sync objects, Values, queues, Manager
// containers) dead and removes them only when told; rm and gc leave alone what they cannot identify.
import { execFile } from 'node:child_process';
import { closeSync, existsSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';

import { killAll, spawnNode, uniqueName, waitForLine, within } from './helpers.js';

const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

interface Listed {
  file: string;
  name: string;
  kind: string;
  origin: string;
  identified: boolean;
  size: number;
  mode: string;
  creatorPid: number | null;
  initialising: boolean;
  users: number[];
  alive: boolean | null;
}

/** Runs the CLI; resolves with its exit status and output whatever the status. */
async function run(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [cli, ...args]);
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

async function ls(prefix: string): Promise<Map<string, Listed>> {
  const { code, stdout, stderr } = await run('ls', '--json', prefix);
  expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
  return new Map((JSON.parse(stdout) as Listed[]).map((o) => [o.file, o]));
}

/** Files this test made, removed afterwards whatever happened. */
const made: string[] = [];
afterEach(() => {
  for (const file of made.splice(0)) rmSync(`/dev/shm/${file}`, { force: true });
});

/** A program that creates one named object of each kind, holds the Lock, and waits to be killed. */
const HOLDER = `
  import { Array, Barrier, Condition, Event, JoinableQueue, Lock, Queue, RLock, Semaphore, SharedDict, SharedList, SharedMemory, SimpleQueue, Value } from 'posix-mp';
  const base = process.argv[1];
  const lock = new Lock({ name: base + '.lock', mode: 0o640 });
  globalThis.objects = [
    lock,
    new RLock({ name: base + '.rlock' }),
    new Event({ name: base + '.event' }),
    new Condition(undefined, { name: base + '.cond' }),
    new Barrier(3, { name: base + '.barrier' }),
    new Value('d', 1.5, { name: base + '.value' }),
    new Array('i', 10, { name: base + '.array' }),
    new Queue(0, { name: base + '.queue' }),
    new JoinableQueue(0, { name: base + '.jqueue' }),
    new SimpleQueue({ name: base + '.squeue' }),
    new SharedList([1, 2], { name: base + '.list' }),
    new SharedDict({ a: 1 }, { name: base + '.dict' }),
    new Semaphore(2, { name: base + '.sem' }),
    new SharedMemory({ name: base + '.shm', size: 100 }),
  ];
  lock.acquireSync();
  console.log('ready');
  setInterval(() => {}, 1000);`;

const KINDS: Record<string, string> = {
  lock: 'Lock',
  rlock: 'RLock',
  event: 'Event',
  cond: 'Condition',
  barrier: 'Barrier',
  value: 'Value',
  array: 'Array',
  // One layout for the three queue classes: the header cannot tell them apart.
  queue: 'Queue',
  jqueue: 'Queue',
  squeue: 'Queue',
  list: 'SharedList',
  dict: 'SharedDict',
};

describe('posix-mp ls, gc and rm', () => {
  it('list a live program\'s objects, find them dead after SIGKILL, and gc removes exactly those', async () => {
    const base = uniqueName('cli');
    made.push(...[...Object.keys(KINDS), 'shm'].map((s) => `${base}.${s}`), `sem.${base}.sem`);
    const holder = spawnNode(HOLDER, [base]);
    try {
      await waitForLine(holder, /^ready$/);
      const live = await ls(base);
      for (const [suffix, kind] of Object.entries(KINDS)) {
        expect(live.get(`${base}.${suffix}`), suffix).toMatchObject({
          kind,
          origin: 'posix-mp',
          identified: true,
          creatorPid: holder.pid,
          initialising: false,
          users: [holder.pid],
          alive: true,
        });
      }
      expect(live.get(`${base}.lock`)).toMatchObject({ mode: '0640', size: 32 + 16 });
      expect(live.get(`sem.${base}.sem`)).toMatchObject({
        name: `${base}.sem`,
        kind: 'Semaphore',
        identified: true,
        creatorPid: null,
        users: [holder.pid],
        alive: true,
      });
      // Plain shared memory has no header: a SharedMemory cannot be told from another program's memory.
      expect(live.get(`${base}.shm`)).toMatchObject({ kind: 'unknown', identified: false, size: 100, alive: true });
      expect(live.size).toBe(Object.keys(KINDS).length + 2);

      const table = await run('ls', base);
      expect(table.stdout).toMatch(new RegExp(`^${base}\\.barrier +Barrier +\\d+ +0600 +${holder.pid} +${holder.pid}`, 'm'));

      // While it lives, gc removes nothing.
      expect((await run('gc', '--yes', base)).stdout).toContain('nothing to remove');

      holder.kill('SIGKILL');
      await within(holder);
      const dead = await ls(base);
      expect([...dead.values()].every((o) => o.alive === false && o.users.length === 0)).toBe(true);
      expect(dead.get(`${base}.lock`)?.creatorPid).toBe(holder.pid);

      const dry = await run('gc', base);
      expect(dry.code).toBe(0);
      for (const suffix of Object.keys(KINDS)) expect(dry.stdout).toContain(`would remove ${base}.${suffix} (`);
      expect(dry.stdout).toContain(`would remove sem.${base}.sem (Semaphore)`);
      expect(dry.stdout).toContain('left 1 unidentified object alone');
      expect((await ls(base)).size).toBe(Object.keys(KINDS).length + 2);

      const wet = await run('gc', '--yes', base);
      expect(wet.code).toBe(0);
      expect(wet.stdout.match(/^removed /gm)).toHaveLength(Object.keys(KINDS).length + 1);
      expect([...(await ls(base)).keys()]).toEqual([`${base}.shm`]);
      expect(existsSync(`/dev/shm/${base}.shm`)).toBe(true);
    } finally {
      killAll([holder]);
    }
  });

  it('count a descriptor without a mapping as a use', async () => {
    const base = uniqueName('cli-fd');
    made.push(base);
    writeFileSync(`/dev/shm/${base}`, 'a foreign object');
    const fd = openSync(`/dev/shm/${base}`, 'r');
    try {
      expect((await ls(base)).get(base)).toMatchObject({ users: [process.pid], alive: true });
    } finally {
      closeSync(fd);
    }
    expect((await ls(base)).get(base)).toMatchObject({ users: [], alive: false });
  });

  it('rm removes posix-mp objects, and other objects only with --force', async () => {
    const base = uniqueName('cli-rm');
    made.push(`${base}.lock`, `${base}.foreign`);
    const creator = spawnNode(`import { Lock } from 'posix-mp'; new Lock({ name: process.argv[1] });`, [`${base}.lock`]);
    expect((await within(creator)).code).toBe(0);
    writeFileSync(`/dev/shm/${base}.foreign`, 'x'.repeat(64));

    const refused = await run('rm', `${base}.foreign`, `${base}.lock`);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`${base}.foreign: not identifiably posix-mp's`);
    expect(refused.stdout).toContain(`removed ${base}.lock (Lock)`);
    expect(existsSync(`/dev/shm/${base}.lock`)).toBe(false);
    expect(existsSync(`/dev/shm/${base}.foreign`)).toBe(true);

    const forced = await run('rm', '--force', `/dev/shm/${base}.foreign`);
    expect(forced).toMatchObject({ code: 0, stderr: '' });
    expect(existsSync(`/dev/shm/${base}.foreign`)).toBe(false);

    const missing = await run('rm', `${base}.foreign`);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('no such object');
  });

  it('recognises Python\'s default SharedMemory and semaphore names, which have no header', async () => {
    // The names Python's SharedMemory() and multiprocessing's semaphores make up; a C or Python peer's
    // objects are recognised by name only.
    const suffix = uniqueName('x').replace(/[^0-9a-f]/g, '').slice(-8).padStart(8, '0');
    const shm = `psm_${suffix}`;
    const sem = `sem.mp-${suffix}`;
    made.push(shm, sem);
    writeFileSync(`/dev/shm/${shm}`, Buffer.alloc(64));
    writeFileSync(`/dev/shm/${sem}`, Buffer.alloc(32));
    const listed = new Map([...(await ls(shm)), ...(await ls(sem))]);
    expect(listed.get(shm)).toMatchObject({ kind: 'SharedMemory', origin: 'python', identified: true });
    expect(listed.get(sem)).toMatchObject({ kind: 'Semaphore', origin: 'python', identified: true, name: `mp-${suffix}` });
  });

  it('rejects bad command lines with status 2', async () => {
    expect((await run('frobnicate')).code).toBe(2);
    expect((await run('rm')).code).toBe(2);
    expect((await run('ls', '--bogus')).code).toBe(2);
    expect((await run('--help')).stdout).toContain('posix-mp gc [--yes]');
  });
});
