// Process: real child processes of the test process (targets in fixtures/process-targets.mjs, started with
// { module, export }: this file is TypeScript, which a child Node cannot import), and parent scripts in
// fixtures/ that start children the way the seeds do.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

import {
  activeChildren,
  cpuCount,
  currentProcess,
  getPreparedInterpreters,
  isMainProcess,
  parentProcess,
  Process,
  Semaphore,
  setPreparedInterpreters,
  SharedMemory,
} from 'posix-mp';
import { finished, runNode, uniqueName, until, waitForLine } from './helpers.js';

const targets = new URL('./fixtures/process-targets.mjs', import.meta.url);
const fixture = (name: string): string => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
const target = (name: string) => ({ module: targets, export: name });

/** Reads what a target wrote with `report()` (fixtures/process-targets.mjs). */
function readReport(shm: SharedMemory): unknown {
  const length = shm.buf.readUInt32LE(0);
  return JSON.parse(shm.buf.toString('utf8', 4, 4 + length));
}

/** Runs a fixture script with node; resolves with its exit status and output. */
function runScript(file: string, args: string[] = [], env: NodeJS.ProcessEnv = {}) {
  const child = spawn(process.execPath, [file, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return { child, result: finished(child) };
}

/** The state letter of a process ('Z' for a zombie), or undefined if it is gone. */
function processState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
}

/** Pids of the children of `pid`, with their states. */
function childrenOf(pid: number): { pid: number; state: string }[] {
  const found = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === pid) found.push({ pid: Number(entry), state: fields[0]! });
    } catch {
      // Exited while we looked.
    }
  }
  return found;
}

const dead = (pid: number): boolean => {
  const state = processState(pid);
  return state === undefined || state === 'Z';
};

afterAll(() => {
  for (const p of activeChildren()) p.kill();
});

describe('Process exit codes', () => {
  it('follows Python: exit(n) → n, return → 0, throw/reject → 1 with the stack, signals → -N', async () => {
    const { result } = runScript(fixture('process-exit-codes.mjs'));
    const { code, stdout, stderr } = await result;
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual({
      exit3: 3,
      returns: 0,
      throws: 1,
      rejects: 1,
      terminated: -15,
      killed: -9,
      exit0: 0,
    });
    expect(stderr).toMatch(/Process throws:\nError: thrown by the target\n\s+at throws \(/);
    expect(stderr).toMatch(/Process rejects:\nError: rejected by the target\n\s+at rejects \(/);
  });

  it('reports exit codes of targets given as { module, export }', async () => {
    const p = new Process({ target: target('exitWith'), args: [7] });
    p.start();
    await p.join();
    expect(p.exitCode).toBe(7);
    const q = new Process({ target: target('sleep'), args: [60_000] });
    q.start();
    q.kill();
    q.joinSync();
    expect(q.exitCode).toBe(-9);
  });
});

describe('the exit report (join resolves before the kernel has torn the child down)', () => {
  it('gives the exit status at join, and the child is still reaped', async () => {
    const p = new Process({ target: target('exitWith'), args: [3] });
    p.start();
    const pid = p.pid!;
    await p.join();
    expect(p.exitCode).toBe(3);
    expect(p.isAlive()).toBe(false);
    expect(activeChildren()).not.toContain(p);
    await until(() => processState(pid) === undefined, 'the child is reaped', { timeout: 10_000 });
    const q = new Process({ target: target('exitWith'), args: [4] });
    q.start();
    q.joinSync();
    expect(q.exitCode).toBe(4);
    expect(q.isAlive()).toBe(false);
  });

  it('a child that closed its channel is reported by its reaping; a reused descriptor 3 gets no report', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'pmp-report-'));
    const file = path.join(dir, 'reused');
    const closed = new Process({ target: target('exitWithoutChannel'), args: [5] });
    const reused = new Process({ target: target('exitWithoutChannel'), args: [6, file] });
    closed.start();
    reused.start();
    await closed.join();
    reused.joinSync();
    expect(closed.exitCode).toBe(5);
    expect(reused.exitCode).toBe(6);
    expect(readFileSync(file).length).toBe(0);
    rmSync(dir, { recursive: true });
  });

  it('the channel does not reach programs the child spawns', async () => {
    const shm = new SharedMemory({ size: 4096 });
    try {
      const p = new Process({ target: target('descriptorOfGrandchild'), args: [shm] });
      p.start();
      await p.join();
      expect(p.exitCode).toBe(0);
      expect(readReport(shm)).not.toMatch(/socket/);
    } finally {
      shm.close();
    }
  });
});

describe('worker_threads', () => {
  it('a worker that alone loaded posix-mp ends cleanly after using processes and waits (Node unloads the addon then)', async () => {
    const result = await runNode(
      `import { Worker } from 'node:worker_threads';
       const worker = new Worker(\`
         import { parentPort } from 'node:worker_threads';
         import { Process, Semaphore } from 'posix-mp';
         const sem = new Semaphore(0);
         const waiting = sem.acquire({ timeout: 60000 });
         const p = new Process({ target: { module: \${JSON.stringify(process.argv[1])}, export: 'exitWith' }, args: [9] });
         p.start();
         await p.join();
         const q = new Process({ target: { module: \${JSON.stringify(process.argv[1])}, export: 'exitWith' }, args: [8] });
         q.start();
         q.joinSync();
         sem.release();
         parentPort.postMessage([p.exitCode, q.exitCode, await waiting]);\`, { eval: true });
       worker.on('message', (m) => console.log(JSON.stringify(m)));
       worker.on('exit', (code) => setTimeout(() => console.log('worker exit ' + code), 200));`,
      [fileURLToPath(targets)],
    );
    expect(result).toMatchObject({ code: 0, signal: null, stderr: '' });
    expect(result.stdout).toBe('[9,8,true]\nworker exit 0\n');
  });
});

describe('Process lifecycle', () => {
  it('join(timeout) returns while the child runs; isAlive and exitCode follow the child', async () => {
    const p = new Process({ target: target('sleep'), args: [60_000] });
    expect(p.pid).toBeUndefined();
    expect(p.exitCode).toBeNull();
    expect(p.isAlive()).toBe(false);
    p.start();
    expect(p.pid).toBeGreaterThan(0);
    expect(p.isAlive()).toBe(true);
    const before = Date.now();
    expect(await p.join(100)).toBeNull();
    expect(Date.now() - before).toBeGreaterThanOrEqual(90);
    expect(p.isAlive()).toBe(true);
    expect(p.exitCode).toBeNull();
    expect(p.joinSync(50)).toBeNull();
    expect(p.isAlive()).toBe(true);
    expect(activeChildren()).toContain(p);
    p.terminate();
    await p.join();
    expect(p.isAlive()).toBe(false);
    expect(p.exitCode).toBe(-15);
    expect(activeChildren()).not.toContain(p);
    // terminate/kill after the end do nothing.
    p.terminate();
    p.kill();
    expect(p.exitCode).toBe(-15);
  });

  it('start twice throws; close() throws while running, then every method throws', async () => {
    const p = new Process({ target: target('sleep'), args: [60_000] });
    p.start();
    expect(() => p.start()).toThrow(expect.objectContaining({ code: 'ERR_MP_STARTED' }));
    expect(() => {
      p.daemon = true;
    }).toThrow(expect.objectContaining({ code: 'ERR_MP_STARTED' }));
    expect(() => p.close()).toThrow(expect.objectContaining({ code: 'ERR_MP_RUNNING' }));
    p.kill();
    await p.join();
    p.close();
    p.close();
    await expect(p.join()).rejects.toMatchObject({ code: 'ERR_MP_CLOSED' });
    for (const use of [
      () => p.start(),
      () => p.joinSync(),
      () => p.isAlive(),
      () => p.terminate(),
      () => p.kill(),
      () => p.pid,
      () => p.exitCode,
    ]) {
      expect(use).toThrow(expect.objectContaining({ code: 'ERR_MP_CLOSED' }));
    }
    expect(p.name).toMatch(/^Process-\d+$/);
  });

  it('refuses to join, terminate or kill a process that was never started; close() is fine', async () => {
    const p = new Process({ target: target('noop') });
    await expect(p.join()).rejects.toMatchObject({ code: 'ERR_MP_NOT_STARTED' });
    expect(() => p.joinSync()).toThrow(expect.objectContaining({ code: 'ERR_MP_NOT_STARTED' }));
    expect(() => p.terminate()).toThrow(expect.objectContaining({ code: 'ERR_MP_NOT_STARTED' }));
    p.close();
  });

  it('join() takes a timeout in ms or { timeout, signal } and resolves the exit code (null if it timed out); joinSync likewise', async () => {
    const p = new Process({ target: target('sleep'), args: [60_000] });
    p.start();
    expect(await p.join({ timeout: 20 })).toBeNull();
    expect(await p.join(0)).toBeNull();
    expect(p.joinSync({ timeout: 10 })).toBeNull();
    expect(p.joinSync(0)).toBeNull();
    const controller = new AbortController();
    const aborted = p.join({ signal: controller.signal });
    controller.abort();
    expect(await aborted).toBeNull();
    expect(await p.join({ signal: AbortSignal.abort() })).toBeNull();
    await expect(p.join({ timeout: -1 })).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    await expect(p.join({ signal: 'x' as never })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    expect(() => p.joinSync('1' as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    p.terminate();
    expect(await p.join({ timeout: 60_000 })).toBe(-15);
    expect(p.joinSync({ timeout: 0 })).toBe(-15);
    const q = new Process({ target: target('exitWith'), args: [3] });
    q.start();
    expect(q.joinSync()).toBe(3);
    expect(await q.join()).toBe(3);
  });

  it('currentProcess().name is assignable in a child too', async () => {
    const shm = new SharedMemory({ size: 256 });
    try {
      const p = new Process({ target: target('rename'), args: [shm, 'worker-a'] });
      p.start();
      expect(await p.join()).toBe(0);
      expect(readReport(shm)).toBe('worker-a');
    } finally {
      shm.close();
    }
  });

  it('validates its options', () => {
    // As Python raises TypeError for an unexpected keyword argument.
    expect(() => new Process({ target: target('noop'), timeout: 5 } as never)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining("unknown option 'timeout'") }),
    );
    expect(() => new Process({ targt: target('noop') } as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => new Process({ target: 42 as never })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => new Process({ args: 'x' as never })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => new Process({ name: 1 as never })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => new Process({ daemon: 'yes' as never })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => new Process({ target: { module: '' } })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
  });

  it('names processes Process-<n> and reports them with toString()', async () => {
    const a = new Process({ target: target('noop') });
    // b sleeps until terminated: a child that has already exited would show as stopped right after start().
    const b = new Process({ target: target('sleep'), args: [60_000], name: 'mine', daemon: true });
    const n = Number(a.name.split('-')[1]);
    expect(b.name).toBe('mine');
    expect(new Process().name).toBe(`Process-${n + 2}`);
    expect(String(a)).toBe(`<Process name='${a.name}' initial>`);
    b.start();
    expect(String(b)).toBe(`<Process name='mine' pid=${b.pid} parent=${process.pid} started daemon>`);
    b.terminate();
    await b.join();
    expect(String(b)).toMatch(/ stopped exitcode=-15 daemon>$/);
  });

  it('reports the main process', () => {
    expect(isMainProcess()).toBe(true);
    expect(currentProcess()).toEqual({ name: 'MainProcess', pid: process.pid, daemon: false });
    // Assignable, as Python's current_process().name = ...
    currentProcess().name = 'Renamed';
    try {
      expect(currentProcess().name).toBe('Renamed');
    } finally {
      currentProcess().name = 'MainProcess';
    }
    expect(() => {
      currentProcess().name = 1 as never;
    }).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(parentProcess()).toBeNull();
    expect(cpuCount()).toBeGreaterThanOrEqual(1);
  });
});

describe('Process targets', () => {
  it('gives the child its name, parent, environment, working directory and argv', async () => {
    const shm = new SharedMemory({ size: 4096 });
    process.env.PMP_TEST_MARK = 'marked';
    try {
      const p = new Process({ target: target('whoAmI'), args: [shm], name: 'who' });
      p.start();
      await p.join();
      expect(p.exitCode).toBe(0);
      expect(readReport(shm)).toEqual({
        current: { name: 'who', pid: p.pid, daemon: false },
        parent: { pid: process.pid },
        isMain: false,
        argv: process.argv.slice(1),
        cwd: process.cwd(),
        mark: 'marked',
        isSharedMemory: true,
      });
    } finally {
      delete process.env.PMP_TEST_MARK;
      shm.close();
    }
  });

  it('runs { module } (the default export), with a path, a URL or a file: URL string', async () => {
    for (const module of [targets, targets.href, fileURLToPath(targets)]) {
      const shm = new SharedMemory({ size: 256 });
      const p = new Process({ target: { module }, args: [shm] });
      p.start();
      await p.join();
      expect(p.exitCode).toBe(0);
      expect(readReport(shm)).toBe('the default export ran');
      shm.close();
    }
  });

  it('runs a target whose module uses top-level await', async () => {
    const shm = new SharedMemory({ size: 256 });
    const p = new Process({ target: { module: fixture('process-tla.mjs'), export: 'tla' }, args: [shm] });
    p.start();
    await p.join();
    expect(p.exitCode).toBe(0);
    expect(readReport(shm)).toBe('after top-level await');
    shm.close();
  });

  it('refuses a module that does not exist, or an export it does not have, in start()', () => {
    expect(() => new Process({ target: { module: fixture('nowhere.mjs') } }).start()).toThrow(
      expect.objectContaining({ code: 'ERR_MODULE_NOT_FOUND' }),
    );
    const p = new Process({ target: target('noSuchExport') });
    expect(() => p.start()).toThrow(
      expect.objectContaining({ code: 'ERR_MP_TARGET_NOT_FOUND', message: expect.stringContaining("export: 'noSuchExport'") }),
    );
    expect(p.pid).toBeUndefined();
  });

  it('refuses targets that no module exports: anonymous, bound and native functions', () => {
    for (const anonymous of [[function () {}][0]!, [() => 1][0]!]) {
      expect(() => new Process({ target: anonymous }).start()).toThrow(
        expect.objectContaining({ code: 'ERR_MP_TARGET_NOT_FOUND' }),
      );
    }
    const bound = (() => {}).bind(null);
    expect(() => new Process({ target: bound }).start()).toThrow(expect.objectContaining({ code: 'ERR_MP_TARGET_NOT_FOUND' }));
    expect(() => new Process({ target: Math.max }).start()).toThrow(expect.objectContaining({ code: 'ERR_MP_TARGET_NOT_FOUND' }));
  });

  it('refuses in start(), in the parent, a target its module does not export, saying what to export from which file', async () => {
    const { code, stdout } = await runScript(fixture('process-hidden.mjs')).result;
    expect(code).toBe(0);
    const [errorCode, message] = stdout.trim().split('\n');
    expect(errorCode).toBe('ERR_MP_TARGET_NOT_FOUND');
    expect(message).toContain(`The target function cannot be run by the child process, which must import it. The function 'hidden' is not exported by ${fixture('process-hidden.mjs')}`);
    expect(message).toContain('`export function hidden`');
  });

  it('refuses to start processes while a child imports its module (no fork bomb without the guard)', async () => {
    const { code, stdout, stderr } = await runScript(fixture('process-unguarded.mjs')).result;
    expect(code).toBe(0);
    expect(stdout.trim()).toBe('exit 1');
    expect(stderr).toContain('isMainProcess()');
    expect(stderr).toContain('ERR_MP_BOOTSTRAPPING');
  });

  it('runs the seeds pattern in an ES module: functions and a subclass defined next to the guarded code', async () => {
    const { code, stdout, stderr } = await runScript(fixture('process-seed.mjs')).result;
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const out = JSON.parse(stdout);
    expect(out.texts).toEqual(['Process-1:0:hello:false', 'Process-2:1:hello:false', 'Process-3:2:hello:false']);
    expect(out.names).toEqual(['Process-1', 'Process-2', 'Process-3', 'Clock-4', 'async worker']);
    expect(out.exitCodes).toEqual([0, 0, 0, 0, 0]);
    expect(out.semaphore).toBe(15);
    // Started and not yet exited: quick children may have ended before activeChildren() was called.
    expect(out.active).toBeGreaterThan(0);
    expect(out.active).toBeLessThanOrEqual(5);
    expect(out.activeAfter).toBe(0);
    expect(out.main.current.name).toBe('MainProcess');
    expect(out.main.parent).toBeNull();
    expect(out.main.isMain).toBe(true);
  });

  it('runs the seeds pattern in a CommonJS module, and refuses a non-export of a loaded module in start()', async () => {
    const { code, stdout, stderr } = await runScript(fixture('process-seed.cjs')).result;
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual({
      // The CommonJS child sees instances of the CommonJS copy's classes.
      text: 'Process-1:true:false',
      exitCodes: [0, 0],
      names: ['Process-1', 'Clock-2'],
      semaphore: 5,
      refused: 'ERR_MP_TARGET_NOT_FOUND',
    });
  });

  it('runs an exported subclass: its own fields travel (shared objects as handles), its constructor does not run again', async () => {
    const { Counter, Failing } = (await import(fixture('process-subclass.mjs'))) as {
      Counter: new (shm: SharedMemory, sem: Semaphore, times: number) => Process;
      Failing: new () => Process;
    };
    const shm = new SharedMemory({ size: 4096 });
    const sem = new Semaphore(0);
    try {
      const p = new Counter(shm, sem, 4);
      expect(p.name).toMatch(/^Counter-\d+$/);
      p.start();
      await p.join();
      expect(p.exitCode).toBe(0);
      expect(sem.getValue()).toBe(4);
      expect(readReport(shm)).toEqual({
        name: p.name,
        current: p.name,
        pid: true,
        daemon: true,
        label: 'counter',
        sameSem: true,
        isCounter: true,
      });
      const failing = new Failing();
      failing.start();
      await failing.join();
      expect(failing.exitCode).toBe(1);
    } finally {
      sem.close();
      shm.close();
    }
  });

  it('refuses in start() a subclass with #private fields, which the child could not have', async () => {
    const { WithPrivate } = (await import(fixture('process-subclass.mjs'))) as { WithPrivate: new () => Process };
    const p = new WithPrivate();
    expect(() => p.start()).toThrow(
      expect.objectContaining({ code: 'ERR_MP_PRIVATE_FIELDS', message: expect.stringMatching(/WithPrivate has #private fields \(#secret\).*public properties/) }),
    );
    expect(p.pid).toBeUndefined();
  });

  it('refuses arguments that cannot be cloned in start()', () => {
    const p = new Process({ target: target('noop'), args: [() => 1] });
    expect(() => p.start()).toThrow(expect.objectContaining({ code: 'ERR_MP_NOT_CLONEABLE' }));
    expect(p.pid).toBeUndefined();
  });

  it('sends a large job through a memory file', async () => {
    const shm = new SharedMemory({ size: 256 });
    const text = 'hello'.padEnd(1 << 20, '.');
    const p = new Process({ target: target('largeArgument'), args: [shm, text] });
    p.start();
    await p.join();
    expect(p.exitCode).toBe(0);
    expect(readReport(shm)).toEqual({ length: 1 << 20, head: 'hello' });
    shm.close();
  });
});

describe('Passing shared objects', () => {
  it('passes named and anonymous Semaphores and SharedMemory at any depth, as working handles', async () => {
    const name = uniqueName('proc-pass');
    const anonymous = { sem: new Semaphore(0), shm: new SharedMemory({ size: 4096 }) };
    const named = { sem: new Semaphore(0, { name }), shm: new SharedMemory({ name, size: 64 }) };
    const deeper = new Semaphore(0);
    const mapped = new SharedMemory({ size: 64 });
    // More memory files than one message can carry descriptors for.
    const big = Array.from({ length: 300 }, () => new SharedMemory({ size: 8 }));
    try {
      const box = {
        anonymous,
        named,
        list: [anonymous.sem, { deeper: { sem: deeper } }],
        map: new Map<string, unknown>([
          ['sem', named.sem],
          ['shm', mapped],
        ]),
        big,
        plain: { n: 1, s: 'text', nested: [1, [2, { x: 3 }]], date: new Date(0).toISOString() },
      };
      const p = new Process({ target: target('useShared'), args: [box, 3] });
      p.start();
      await p.join();
      expect(p.exitCode).toBe(0);
      expect(readReport(anonymous.shm)).toEqual({
        kinds: ['Semaphore', 'Semaphore', 'Semaphore'],
        sameHandle: true,
        plain: box.plain,
        values: [3, 3, 3],
      });
      expect([anonymous.sem, named.sem, deeper].map((s) => s.getValue())).toEqual([3, 3, 3]);
      expect(named.shm.buf.toString('utf8', 8, 16)).toBe('named ok');
      expect(mapped.buf.toString('utf8', 8, 16)).toBe('in a map');
      expect(big.every((shm, i) => shm.buf.readUInt32LE(0) === i + 1)).toBe(true);
    } finally {
      for (const o of [anonymous.sem, anonymous.shm, named.sem, named.shm, deeper, mapped, ...big]) o.close();
      named.sem.unlink();
      named.shm.unlink();
    }
  });

  it('keeps a passed anonymous semaphore working in both processes after the parent closes its handle', async () => {
    const ping = new Semaphore(0);
    const pong = new Semaphore(0);
    const p = new Process({ target: target('pingPong'), args: [ping, pong] });
    p.start();
    ping.release();
    expect(await pong.acquire({ timeout: 20_000 })).toBe(true);
    await p.join();
    expect(p.exitCode).toBe(0);
    ping.close();
    // The closed semaphore's block was passed: the next one must not reuse (and reset) its memory.
    const other = new Semaphore(5);
    expect(other.getValue()).toBe(5);
    other.close();
    pong.close();
  });

  it('refuses a closed shared object in start()', () => {
    const sem = new Semaphore(0);
    sem.close();
    expect(() => new Process({ target: target('noop'), args: [sem] }).start()).toThrow(
      expect.objectContaining({ code: 'ERR_MP_CLOSED' }),
    );
  });
});

describe('Process lifetime', () => {
  it('a non-daemon child keeps the parent alive until it exits', async () => {
    const { code, stdout } = await runScript(fixture('process-keepalive.mjs')).result;
    expect(code).toBe(0);
    const time = (what: string) => Number(new RegExp(`${what} (\\d+)`).exec(stdout)![1]);
    expect(time('child done') - time('parent started')).toBeGreaterThanOrEqual(250);
    expect(time('parent exit')).toBeGreaterThanOrEqual(time('child done'));
  });

  it('terminates daemon children when the main program ends, before waiting for the non-daemon ones (as Python)', async () => {
    const { code, stdout } = await runScript(fixture('process-daemon-exit.mjs')).result;
    expect(code).toBe(0);
    const daemon = Number(/^daemon (\d+)$/m.exec(stdout)![1]);
    expect(stdout).toContain('daemon gone while the non-daemon child runs');
    expect(processState(daemon)).toBeUndefined();
  });

  it('daemon children die with a SIGKILLed parent, non-daemon children live on (cold and prepared)', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'pmp-proc-'));
    const { child, result } = runScript(fixture('process-parent-death.mjs'), [dir]);
    let survivors: number[] = [];
    try {
      const pids = JSON.parse(await waitForLine(child, /^\{/)) as { daemons: number[]; survivors: number[] };
      survivors = pids.survivors;
      expect(pids.daemons.every((pid) => !dead(pid))).toBe(true);
      // Not `result`: that waits for the output pipes to close, which the survivors keep open.
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
      await until(() => pids.daemons.every(dead), 'the daemons die', { timeout: 10_000 });
      expect(survivors.every((pid) => !dead(pid))).toBe(true);
      writeFileSync(path.join(dir, 'go'), '');
      const markers = () => existsSync(path.join(dir, 'cold')) && existsSync(path.join(dir, 'prepared'));
      await until(markers, 'every marker is written', { timeout: 10_000 });
    } finally {
      child.kill('SIGKILL');
      for (const pid of survivors) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
      await result;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('leaves no zombie after 200 starts', { timeout: 240_000 }, async () => {
    for (let batch = 0; batch < 25; batch++) {
      const ps = Array.from({ length: 8 }, () => new Process({ target: target('noop') }));
      for (const p of ps) p.start();
      for (const p of ps) await p.join();
      expect(ps.map((p) => p.exitCode)).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    }
    // Joined children are reaped once the kernel has torn them down (milliseconds after their exit report);
    // the prepared interpreter is alive.
    await until(() => childrenOf(process.pid).length <= getPreparedInterpreters(), 'only prepared interpreters are left', { timeout: 10_000 });
    const children = childrenOf(process.pid);
    expect(children.filter((c) => c.state === 'Z')).toEqual([]);
    expect(children.length).toBeLessThanOrEqual(getPreparedInterpreters());
  });

  it("does not take child_process's children: their 'exit' events still come while ours run", async () => {
    const ours = new Process({ target: target('sleep'), args: [1000] });
    ours.start();
    const theirs = spawn(process.execPath, ['-e', 'setTimeout(() => process.exit(7), 50)']);
    const [code] = await once(theirs, 'exit');
    expect(code).toBe(7);
    expect(ours.isAlive()).toBe(true);
    await ours.join();
    expect(ours.exitCode).toBe(0);
  });

  it('prepared interpreters never keep a parent alive, and die with it', async () => {
    const code = `
      import { readdirSync, readFileSync } from 'node:fs';
      import { Process, setPreparedInterpreters } from 'posix-mp';
      setPreparedInterpreters(2);
      const p = new Process({ target: { module: ${JSON.stringify(targets.href)}, export: 'noop' } });
      p.start();
      await p.join();
      await new Promise((resolve) => setTimeout(resolve, 500));
      const children = readdirSync('/proc').filter((e) => /^\\d+$/.test(e)).filter((e) => {
        try { const s = readFileSync('/proc/' + e + '/stat', 'utf8'); return Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[1]) === process.pid; } catch { return false; }
      });
      console.log(JSON.stringify({ exitCode: p.exitCode, children: children.map(Number) }));`;
    // Prepared interpreters serve the 'spawn' start method.
    const child = spawn(process.execPath, ['--input-type=module', '-e', code], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, POSIX_MP_START_METHOD: 'spawn' },
    });
    const started = Date.now();
    const { code: exit, stdout, stderr } = await finished(child);
    expect(stderr).toBe('');
    expect(exit).toBe(0);
    expect(Date.now() - started).toBeLessThan(30_000);
    const out = JSON.parse(stdout) as { exitCode: number; children: number[] };
    expect(out.exitCode).toBe(0);
    expect(out.children.length).toBe(2);
    await until(() => out.children.every(dead), 'the prepared interpreters die with their parent', { timeout: 10_000 });
  });

  it('can turn prepared interpreters off (POSIX_MP_PREPARED=0, setPreparedInterpreters(0))', async () => {
    expect(() => setPreparedInterpreters(-1)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    const code = `
      import { readdirSync, readFileSync } from 'node:fs';
      import { getPreparedInterpreters, Process } from 'posix-mp';
      const p = new Process({ target: { module: ${JSON.stringify(targets.href)}, export: 'noop' } });
      p.start();
      await p.join();
      await new Promise((resolve) => setTimeout(resolve, 500));
      const children = readdirSync('/proc').filter((e) => /^\\d+$/.test(e)).filter((e) => {
        try { const s = readFileSync('/proc/' + e + '/stat', 'utf8'); return Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[1]) === process.pid; } catch { return false; }
      });
      console.log(JSON.stringify({ size: getPreparedInterpreters(), exitCode: p.exitCode, children: children.length }));`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', code], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, POSIX_MP_PREPARED: '0', POSIX_MP_START_METHOD: 'spawn' },
    });
    const { stdout, stderr } = await finished(child);
    expect(stderr).toBe('');
    expect(JSON.parse(stdout)).toEqual({ size: 0, exitCode: 0, children: 0 });
  });
});
