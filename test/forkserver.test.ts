// The 'forkserver' start method with real processes: Node keeps working in forked children (V8's background
// threads, libuv's thread pool, OpenSSL, child processes, sockets, wasm, workers), children are processes of
// their own (pid, parent pid, random numbers, lock ownership, shared memory, environment, stdio), exit codes
// and signals come back exactly, and the zygote restarts, dies with its owner, and falls back to 'spawn'.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { afterAll, describe, expect, it } from 'vitest';

import {
  activeChildren,
  Array as SharedArray,
  getAllStartMethods,
  getStartMethod,
  Process,
  RLock,
  Semaphore,
  setForkserverPreload,
  setStartMethod,
  Value,
} from 'posix-mp';

import { finished, runNode } from './helpers.js';

const works = new URL('./fixtures/forkserver-works.mjs', import.meta.url);
const worksPath = fileURLToPath(works);

/** Starts `export` of the scenarios' module with the fork server and waits for its exit code. */
async function runChild(exportName: string, args: unknown[] = [], options: { daemon?: boolean } = {}): Promise<number | null> {
  const p = new Process({ target: { module: works, export: exportName }, args, startMethod: 'forkserver', ...options });
  p.start();
  await p.join();
  const code = p.exitCode;
  p.close();
  return code;
}

/** The processes whose parent is `pid`, with their command lines. */
function childrenOf(pid: number): { pid: number; cmdline: string }[] {
  const found = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) !== pid) continue;
      found.push({ pid: Number(entry), cmdline: readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ') });
    } catch {
      // Exited while we looked.
    }
  }
  return found;
}

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

async function until(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return true;
}

const zygotes = (): number[] => childrenOf(process.pid).filter((c) => c.cmdline.includes('--posix-mp-zygote')).map((c) => c.pid);

afterAll(() => {
  for (const p of activeChildren()) p.kill();
});

describe('start methods', () => {
  it("defaults to 'forkserver' on this Node, and validates what it is given", () => {
    expect(getAllStartMethods()).toEqual(['forkserver', 'spawn']);
    expect(getStartMethod()).toBe('forkserver');
    expect(() => setStartMethod('fork' as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => new Process({ startMethod: 'thread' as never })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    setStartMethod('spawn');
    expect(getStartMethod()).toBe('spawn');
    setStartMethod('forkserver');
    expect(getStartMethod()).toBe('forkserver');
  });

  it('follows POSIX_MP_START_METHOD, and falls back to spawn when the fork server addon is unavailable', async () => {
    const code = `
      import { getAllStartMethods, getStartMethod, setStartMethod, Process } from 'posix-mp';
      let refused = null;
      try { setStartMethod('forkserver'); } catch (error) { refused = error.code; }
      const p = new Process({ target: { module: ${JSON.stringify(works.href)}, export: 'sync' } });
      p.start();
      await p.join();
      console.log(JSON.stringify({ all: getAllStartMethods(), method: getStartMethod(), refused, exitCode: p.exitCode }));`;
    const chosen = await runNode(code, [], { POSIX_MP_START_METHOD: 'spawn' });
    expect(chosen.stderr).toBe('');
    expect(JSON.parse(chosen.stdout)).toEqual({ all: ['forkserver', 'spawn'], method: 'forkserver', refused: null, exitCode: 0 });
    const missing = await runNode(code, [], { POSIX_MP_FORKSERVER_ADDON: '/nonexistent/posix_mp_forkserver.so' });
    expect(missing.stderr).toBe('');
    expect(JSON.parse(missing.stdout)).toEqual({ all: ['spawn'], method: 'spawn', refused: 'ERR_INVALID_ARG_VALUE', exitCode: 0 });
    const spawnFirst = await runNode(`import { getStartMethod } from 'posix-mp'; console.log(getStartMethod());`, [], {
      POSIX_MP_START_METHOD: 'spawn',
    });
    expect(spawnFirst.stdout.trim()).toBe('spawn');
  });
});

describe('setForkserverPreload', () => {
  const preloaded = new URL('./fixtures/forkserver-preload.mjs', import.meta.url);

  /** [the pid that imported the fixture, 1 if a main process did, the child's pid], from a forked child. */
  async function whoImported(): Promise<number[]> {
    const out = new SharedArray('i', 3);
    const p = new Process({ target: { module: preloaded, export: 'whoImported' }, args: [out], startMethod: 'forkserver' });
    p.start();
    expect(await p.join()).toBe(0);
    p.close();
    const result = [...out];
    out.close();
    return result;
  }

  it('has the fork server import the modules, as a child would, before its children need them', async () => {
    try {
      setForkserverPreload([preloaded]);
      const [importedBy, main, child] = await whoImported();
      expect(importedBy).not.toBe(child);
      expect(main).toBe(0);
      // The same fork server serves every child with that list: they all find the module it imported.
      expect((await whoImported())[0]).toBe(importedBy);
    } finally {
      setForkserverPreload([]);
    }
    const [importedBy, , child] = await whoImported();
    expect(importedBy).toBe(child);
  });

  it('validates the list', () => {
    expect(() => setForkserverPreload('posix-mp' as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => setForkserverPreload([42 as never])).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => setForkserverPreload(['./fixtures/no-such-module.mjs'])).toThrow(expect.objectContaining({ code: 'ERR_MODULE_NOT_FOUND' }));
  });
});

describe('children of the fork server keep a working Node', () => {
  // The spike's scenarios, each in several children one after another, then all of them at once.
  const scenarios = ['sync', 'timer', 'immediate', 'fs', 'crypto', 'promises', 'gc', 'fullGc', 'optimize', 'wasm', 'worker', 'childProcess', 'net', 'dns', 'zlib', 'uuid', 'sharedObjects', 'asyncWaits'];
  const ROUNDS = 2;

  it.each(scenarios)('%s', async (name) => {
    for (let round = 0; round < ROUNDS; round++) expect(await runChild(name)).toBe(0);
  });

  it('runs every scenario at once, twice over', async () => {
    const processes = [...scenarios, ...scenarios].map(
      (name) => new Process({ target: { module: works, export: name }, startMethod: 'forkserver' }),
    );
    for (const p of processes) p.start();
    for (const p of processes) await p.join();
    expect(processes.map((p) => p.exitCode)).toEqual(processes.map(() => 0));
  });
});

describe('children of the fork server end as Python says', () => {
  it('reports exit codes: exitCode, exit(n), throw, reject, unhandled rejection', async () => {
    expect(await runChild('exitCode')).toBe(5);
    expect(await runChild('exit7')).toBe(7);
    expect(await runChild('throws')).toBe(1);
    expect(await runChild('rejectsLater')).toBe(1);
    expect(await runChild('unhandledRejection')).toBe(1);
  });

  it('reports signals as -N, also right after start and for a child that handles the signal', async () => {
    for (let i = 0; i < 5; i++) {
      const killed = new Process({ target: { module: works, export: 'sleep' }, startMethod: 'forkserver' });
      const terminated = new Process({ target: { module: works, export: 'sleep' }, startMethod: 'forkserver' });
      killed.start();
      terminated.start();
      killed.kill();
      terminated.terminate();
      await killed.join();
      await terminated.join();
      expect([killed.exitCode, terminated.exitCode]).toEqual([-9, -15]);
    }
    // Both say when they run: the handler is installed then.
    const ready = new Semaphore(0);
    const handles = new Process({ target: { module: works, export: 'handlesTerm' }, args: [ready], startMethod: 'forkserver' });
    const sleeper = new Process({ target: { module: works, export: 'readySleep' }, args: [ready], startMethod: 'forkserver' });
    handles.start();
    sleeper.start();
    for (let i = 0; i < 2; i++) expect(await ready.acquire({ timeout: 30_000 })).toBe(true);
    ready.close();
    handles.terminate();
    sleeper.kill();
    await handles.join();
    await sleeper.join();
    expect(handles.exitCode).toBe(3);
    expect(sleeper.exitCode).toBe(-9);
  });

  it('joins synchronously', () => {
    const p = new Process({ target: { module: works, export: 'exit7' }, startMethod: 'forkserver' });
    p.start();
    p.joinSync();
    expect(p.exitCode).toBe(7);
  });
});

describe('children of the fork server are processes of their own', () => {
  it('have their own pid, this process as parent, and their own random numbers', async () => {
    const seen: number[][] = [];
    for (let i = 0; i < 6; i++) {
      const out = new SharedArray('d', 3);
      const p = new Process({ target: { module: works, export: 'identity' }, args: [out], startMethod: 'forkserver' });
      p.start();
      await p.join();
      expect(p.exitCode).toBe(0);
      seen.push(out.toArray());
      expect(out.get(0)).toBe(p.pid);
      expect(out.get(1)).toBe(process.pid);
      out.close();
    }
    expect(new Set(seen.map((s) => s[2])).size).toBe(seen.length);
  });

  it('draw different UUIDs and random bytes than their siblings', async () => {
    const code = `
      import { Process, isMainProcess } from 'posix-mp';
      import { randomUUID, randomBytes } from 'node:crypto';
      export function draw() { console.log(randomUUID() + ' ' + randomBytes(8).toString('hex') + ' ' + Math.random()); }
      if (isMainProcess()) {
        for (let i = 0; i < 4; i++) { const p = new Process({ target: draw, startMethod: 'forkserver' }); p.start(); await p.join(); }
      }`;
    const { stdout, stderr } = await runScriptFile('forkserver-draw.mjs', code);
    expect(stderr).toBe('');
    const lines = stdout.trim().split('\n');
    expect(lines.length).toBe(4);
    for (let column = 0; column < 3; column++) expect(new Set(lines.map((l) => l.split(' ')[column])).size).toBe(4);
  });

  it('own the locks they take: an RLock guards a counter among forked siblings', async () => {
    const lock = new RLock();
    const counter = new Value('i', 0);
    const processes = Array.from(
      { length: 4 },
      () => new Process({ target: { module: works, export: 'increment' }, args: [lock, counter, 2000], startMethod: 'forkserver' }),
    );
    for (const p of processes) p.start();
    for (const p of processes) await p.join();
    expect(processes.map((p) => p.exitCode)).toEqual([0, 0, 0, 0]);
    expect(counter.value).toBe(8000);
    lock.close();
    counter.close();
  });

  it("get the requester's cwd, environment, argv and stdout at start()", async () => {
    const code = `
      import { Process } from 'posix-mp';
      process.chdir('/tmp');
      process.env.FORKSERVER_TEST = 'set after the zygote started';
      const first = new Process({ target: { module: ${JSON.stringify(works.href)}, export: 'sync' }, startMethod: 'forkserver' });
      first.start();
      await first.join();
      process.chdir('/');
      process.env.FORKSERVER_TEST = 'changed';
      const p = new Process({ target: { module: ${JSON.stringify(works.href)}, export: 'environment' }, startMethod: 'forkserver' });
      p.start();
      await p.join();
      console.log(JSON.stringify(process.argv.slice(1)));`;
    const { stdout, stderr } = await runNode(code, ['a', 'b']);
    expect(stderr).toBe('');
    const [child, parentArgv] = stdout.trim().split('\n').map((line) => JSON.parse(line));
    expect(parentArgv).toContain('b');
    // Node's options as a spawned child's: the parent's minus -e and --input-type, and none of the zygote's own.
    expect(child).toEqual({ cwd: '/', env: 'changed', argv: parentArgv, execArgv: [], stdin: null });
  });
});

describe('the zygote', () => {
  it('is restarted when it dies, and a start never fails because of it', async () => {
    expect(await runChild('sync')).toBe(0);
    const [zygote] = zygotes();
    expect(zygote).toBeDefined();
    process.kill(zygote!, 'SIGKILL');
    expect(await until(() => !alive(zygote!), 10_000)).toBe(true);
    for (let i = 0; i < 3; i++) expect(await runChild('sync')).toBe(0);
    const [restarted] = zygotes();
    expect(restarted).toBeDefined();
    expect(restarted).not.toBe(zygote);
  });

  it('replaces spare children killed from outside: the next starts still run their targets', async () => {
    expect(await runChild('sync')).toBe(0);
    const [zygote] = zygotes();
    // The spares (two, see kSpares in native/forkserver/zygote.cc) are the zygote's only children once the
    // child above has been reaped.
    expect(await until(() => childrenOf(zygote!).length === 2, 10_000)).toBe(true);
    const spares = childrenOf(zygote!);
    for (const spare of spares) process.kill(spare.pid, 'SIGKILL');
    // Reaped by the zygote (gone from /proc), not just dead.
    expect(await until(() => spares.every((spare) => !readdirSync('/proc').includes(String(spare.pid))), 10_000)).toBe(true);
    expect(await runChild('sync')).toBe(0);
    expect(await runChild('sync')).toBe(0);
    expect(zygotes()).toEqual([zygote]);
  });

  it('never outlives its owner; daemon children die with the owner, others live on', async () => {
    const code = `
      import { Process, Semaphore } from 'posix-mp';
      // Each releases 'ready' once its job runs (a daemon's death signal is set by then).
      const ready = new Semaphore(0);
      const daemon = new Process({ target: { module: ${JSON.stringify(works.href)}, export: 'readySleep' }, args: [ready], daemon: true, startMethod: 'forkserver' });
      const other = new Process({ target: { module: ${JSON.stringify(works.href)}, export: 'readySleep' }, args: [ready], startMethod: 'forkserver' });
      daemon.start();
      other.start();
      await ready.acquire();
      await ready.acquire();
      console.log(JSON.stringify({ daemon: daemon.pid, other: other.pid }));
      setInterval(() => {}, 1000);`;
    const owner = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'pipe'] });
    const output = finished(owner);
    let line = '';
    owner.stdout.setEncoding('utf8').on('data', (d: string) => (line += d));
    expect(await until(() => line.includes('}'), 30_000)).toBe(true);
    const pids = JSON.parse(line) as { daemon: number; other: number };
    const zygote = childrenOf(owner.pid!).find((c) => c.cmdline.includes('--posix-mp-zygote'))!.pid;
    owner.kill('SIGKILL');
    await output;
    expect(await until(() => !alive(zygote) && !alive(pids.daemon), 10_000)).toBe(true);
    expect(alive(pids.other)).toBe(true);
    process.kill(pids.other, 'SIGKILL');
  });

  it('exits when its owner ends normally, and never keeps the owner alive', async () => {
    const code = `
      import { Process } from 'posix-mp';
      const p = new Process({ target: { module: ${JSON.stringify(works.href)}, export: 'sync' }, startMethod: 'forkserver' });
      p.start();
      await p.join();
      const { readdirSync, readFileSync } = await import('node:fs');
      const zygote = readdirSync('/proc').filter((e) => /^\\d+$/.test(e)).find((e) => {
        try { return readFileSync('/proc/' + e + '/cmdline', 'utf8').includes('--posix-mp-zygote') && readFileSync('/proc/' + e + '/stat', 'utf8').split(') ')[1].split(' ')[1] === String(process.pid); } catch { return false; }
      });
      console.log(zygote);`;
    const started = Date.now();
    const { code: exit, stdout, stderr } = await runNode(code);
    expect(stderr).toBe('');
    expect(exit).toBe(0);
    expect(Date.now() - started).toBeLessThan(30_000);
    const zygote = Number(stdout.trim());
    expect(zygote).toBeGreaterThan(0);
    expect(await until(() => !alive(zygote), 10_000)).toBe(true);
  });
});

/** Writes `code` as a module file next to the fixtures (children import it by path) and runs it. */
async function runScriptFile(name: string, code: string) {
  const { writeFileSync, rmSync } = await import('node:fs');
  const file = fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
  writeFileSync(file, code);
  try {
    const child = spawn(process.execPath, [file], { stdio: ['ignore', 'pipe', 'pipe'] });
    return await finished(child);
  } finally {
    rmSync(file, { force: true });
  }
}

void worksPath;
