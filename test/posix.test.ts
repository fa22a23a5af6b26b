import { spawn as cpSpawn } from 'node:child_process';
import { once } from 'node:events';
import {
  closeSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';

import { posix } from 'posix-mp';
import { finished, runNode, sleep, spawnNode, until, waitForLine } from './helpers.js';

// ---- /proc helpers -------------------------------------------------------------------------------------

interface ProcStat {
  state: string;
  ppid: number;
  pgrp: number;
  session: number;
}

/** /proc/<pid>/stat, or null once the process is gone (reaped). */
function procStat(pid: number): ProcStat | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name is in parentheses and may contain anything: fields resume after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0]!, ppid: Number(fields[1]), pgrp: Number(fields[2]), session: Number(fields[3]) };
}

/** Running, sleeping, stopped... anything but gone or a zombie. */
function alive(pid: number): boolean {
  const stat = procStat(pid);
  return stat !== null && stat.state !== 'Z' && stat.state !== 'X';
}

/** The children of this process (whichever thread forked them), with their states. */
function myChildren(): { pid: number; state: string }[] {
  const result: { pid: number; state: string }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = procStat(Number(entry));
    if (stat?.ppid === process.pid) result.push({ pid: Number(entry), state: stat.state });
  }
  return result;
}

/** Pids to SIGKILL after the suite, whatever happened. */
const leftovers = new Set<number>();
function track(pid: number): number {
  leftovers.add(pid);
  return pid;
}
afterAll(() => {
  for (const pid of leftovers) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

const scratch = mkdtempSync(path.join(tmpdir(), 'pmp-posix-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

// ---- tests ---------------------------------------------------------------------------------------------

describe('posix.spawn and waitpid', () => {
  it('reports exit codes and killing signals, asynchronously and synchronously', async () => {
    const exits = track(posix.spawn('sh', ['-c', 'exit 7']));
    expect(await posix.waitpid(exits, { timeout: 20_000 })).toEqual({
      pid: exits,
      exitCode: 7,
      signal: null,
      coreDumped: false,
    });

    const sleeper = track(posix.spawn('sleep', ['30']));
    expect(posix.waitpidSync(sleeper, { noHang: true })).toBeNull();
    expect(await posix.waitpid(sleeper, { noHang: true })).toBeNull();
    expect(posix.waitpidSync(sleeper, { timeout: 50 })).toBeNull();
    expect(await posix.waitpid(sleeper, { timeout: 50 })).toBeNull();
    posix.kill(sleeper, 'SIGTERM');
    expect(posix.waitpidSync(sleeper)).toEqual({ pid: sleeper, exitCode: null, signal: 'SIGTERM', coreDumped: false });

    const killed = track(posix.spawn('sleep', ['30']));
    const pending = posix.waitpid(killed);
    posix.kill(killed, 9);
    expect(await pending).toMatchObject({ exitCode: null, signal: 'SIGKILL' });
  });

  it('collects a status once: afterwards, and for pids it did not spawn, ECHILD', async () => {
    const pid = track(posix.spawn('true'));
    expect((await posix.waitpid(pid))!.exitCode).toBe(0);
    expect(() => posix.waitpidSync(pid)).toThrow(expect.objectContaining({ code: 'ECHILD', syscall: 'waitpid' }));
    await expect(posix.waitpid(pid)).rejects.toMatchObject({ code: 'ECHILD' });
    // Our parent is not our child, and waitpid(-1) / waitpid(0) are not offered.
    expect(() => posix.waitpidSync(process.ppid)).toThrow(expect.objectContaining({ code: 'ECHILD' }));
    expect(() => posix.waitpidSync(-1)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => posix.waitpidSync(0)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
  });

  it('keeps the status of a child nobody waited for until waitpid collects it', async () => {
    const pid = track(posix.spawn('sh', ['-c', 'exit 3']));
    await until(() => procStat(pid) === null, 'the child is reaped without anyone waiting');
    expect(posix.waitpidSync(pid, { noHang: true })).toMatchObject({ pid, exitCode: 3 });
  });

  it('rejects a pending waitpid on abort and keeps watching the child', async () => {
    const pid = track(posix.spawn('sleep', ['30']));
    const controller = new AbortController();
    const waiting = posix.waitpid(pid, { signal: controller.signal });
    controller.abort(new Error('stop waiting'));
    await expect(waiting).rejects.toThrow('stop waiting');
    posix.kill(pid, 'SIGKILL');
    expect(await posix.waitpid(pid)).toMatchObject({ signal: 'SIGKILL' });
  });

  it('reports a program that cannot be started as ENOENT and leaves no process behind', () => {
    const before = myChildren().length;
    for (const file of ['posix-mp-no-such-program', '/nonexistent/program']) {
      expect(() => posix.spawn(file)).toThrow(
        expect.objectContaining({ code: 'ENOENT', syscall: 'execve', path: file, errno: -2 }),
      );
    }
    expect(() => posix.spawn('true', [], { cwd: '/nonexistent/dir' })).toThrow(
      expect.objectContaining({ code: 'ENOENT', syscall: 'chdir', path: '/nonexistent/dir' }),
    );
    // A file that exists but is not executable.
    const text = path.join(scratch, 'not-a-program.txt');
    writeFileSync(text, 'hello\n', { mode: 0o644 });
    expect(() => posix.spawn(text)).toThrow(expect.objectContaining({ code: 'EACCES', path: text }));
    // The failed children were reaped before spawn threw: no zombie, no extra child.
    expect(myChildren().filter((c) => c.state === 'Z')).toEqual([]);
    expect(myChildren().length).toBe(before);
  });

  it('searches PATH in the given environment and passes env, cwd and argv0', async () => {
    const out = path.join(scratch, 'env.txt');
    const fd = openSync(out, 'w');
    try {
      const pid = track(
        posix.spawn('sh', ['-c', 'printf "%s|%s|%s|%s" "$FOO" "$(pwd)" "$0" "$UNSET_ME"'], {
          env: { PATH: '/usr/bin:/bin', FOO: 'bar baz', UNSET_ME: undefined },
          cwd: new URL(`file://${scratch}`),
          argv0: 'my-shell',
          fds: [null, fd, 2],
        }),
      );
      expect((await posix.waitpid(pid))!.exitCode).toBe(0);
    } finally {
      closeSync(fd);
    }
    expect(readFileSync(out, 'utf8')).toBe(`bar baz|${scratch}|my-shell|`);
    // No PATH entry has the program: ENOENT, although /bin/sh exists.
    expect(() => posix.spawn('sh', [], { env: { PATH: scratch } })).toThrow(
      expect.objectContaining({ code: 'ENOENT' }),
    );
  });

  it('gives the program exactly the planned descriptors', async () => {
    const first = path.join(scratch, 'fd-1.txt');
    const fourth = path.join(scratch, 'fd-4.txt');
    const a = openSync(first, 'w');
    const b = openSync(fourth, 'w');
    try {
      const sleeper = track(posix.spawn('sleep', ['30'], { fds: [null, a, undefined, null, b] }));
      // spawn returns after the exec: /proc shows the program's own table (polled: under the sanitizers'
      // LD_PRELOAD, the runtime's start-up in the program holds a descriptor of its own for a moment).
      const table = (): string[] => readdirSync(`/proc/${sleeper}/fd`).sort();
      await until(() => table().join() === '0,1,2,4', 'the program holds descriptors 0, 1, 2 and 4 only', {
        timeout: 5_000,
        explain: table,
      });
      expect(readlinkSync(`/proc/${sleeper}/fd/0`)).toBe('/dev/null');
      expect(readlinkSync(`/proc/${sleeper}/fd/1`)).toBe(first);
      expect(readlinkSync(`/proc/${sleeper}/fd/2`)).toBe('/dev/null');
      expect(readlinkSync(`/proc/${sleeper}/fd/4`)).toBe(fourth);
      posix.kill(sleeper, 'SIGKILL');
      await posix.waitpid(sleeper);

      // Object form: extra slots on top of the inherited stdio. Slot numbers equal to the other slot's
      // source swap the two descriptors: neither may overwrite the other's source while being placed.
      const swapped = track(posix.spawn('sleep', ['30'], { fds: { [a]: b, [b]: a } }));
      expect(readlinkSync(`/proc/${swapped}/fd/${a}`)).toBe(fourth);
      expect(readlinkSync(`/proc/${swapped}/fd/${b}`)).toBe(first);
      posix.kill(swapped, 'SIGKILL');
      await posix.waitpid(swapped);

      const writer = track(posix.spawn('sh', ['-c', 'echo to-three >&3; echo to-one'], { fds: { 1: b, 3: a } }));
      expect((await posix.waitpid(writer))!.exitCode).toBe(0);
      expect(readFileSync(first, 'utf8')).toBe('to-three\n');
      expect(readFileSync(fourth, 'utf8')).toBe('to-one\n');
    } finally {
      closeSync(a);
      closeSync(b);
    }
    expect(() => posix.spawn('true', [], { fds: [0, 1, 2, 987654] })).toThrow(
      expect.objectContaining({ code: 'EBADF' }),
    );
  });

  it('starts programs with default signal dispositions and an empty mask', async () => {
    // Node ignores SIGPIPE and blocks nothing on its main thread, but handles several signals itself.
    const pid = track(posix.spawn('sleep', ['30']));
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    expect(status).toMatch(/^SigBlk:\s*0+$/m);
    expect(status).toMatch(/^SigIgn:\s*0+$/m);
    posix.kill(pid, 'SIGKILL');
    await posix.waitpid(pid);
  });

  it('creates sessions and process groups', async () => {
    const leader = track(posix.spawn('sleep', ['30'], { setsid: true }));
    expect(procStat(leader)).toMatchObject({ session: leader, pgrp: leader });
    expect(posix.getpgid(leader)).toBe(leader);

    const head = track(posix.spawn('sleep', ['30'], { pgid: 0 }));
    const member = track(posix.spawn('sleep', ['30'], { pgid: head }));
    expect(posix.getpgid(head)).toBe(head);
    expect(posix.getpgid(member)).toBe(head);
    expect(procStat(member)!.session).toBe(procStat(process.pid)!.session);
    posix.killpg(head, 'SIGTERM');
    expect(await posix.waitpid(head)).toMatchObject({ signal: 'SIGTERM' });
    expect(await posix.waitpid(member)).toMatchObject({ signal: 'SIGTERM' });
    posix.kill(leader, 'SIGKILL');
    await posix.waitpid(leader);
    expect(posix.getpgid()).toBe(procStat(process.pid)!.pgrp);
  });

  it('leaves no zombie after 200 spawns, waited for or not', async () => {
    const waited: number[] = [];
    const unwaited: number[] = [];
    for (let i = 0; i < 200; i++) {
      const pid = track(posix.spawn('sh', ['-c', `exit ${i % 100}`], { fds: [null, null, null] }));
      (i % 2 === 0 ? waited : unwaited).push(pid);
    }
    const statuses = await Promise.all(waited.map((pid) => posix.waitpid(pid, { timeout: 30_000 })));
    expect(statuses.every((s, i) => s?.exitCode === (i * 2) % 100)).toBe(true);
    const ours = new Set([...waited, ...unwaited]);
    await until(() => myChildren().every((c) => !ours.has(c.pid)), 'every child is reaped');
    expect(myChildren().filter((c) => c.state === 'Z')).toEqual([]);
    // The statuses of the children nobody waited for were kept.
    unwaited.forEach((pid, i) => expect(posix.waitpidSync(pid, { noHang: true })?.exitCode).toBe((i * 2 + 1) % 100));
  });

  it("coexists with child_process: its children still emit 'exit'", async () => {
    const ours = [track(posix.spawn('sleep', ['0.3'])), track(posix.spawn('sh', ['-c', 'sleep 0.2; exit 5']))];
    const theirs = cpSpawn('sh', ['-c', 'sleep 0.1; exit 4']);
    const quick = cpSpawn('sh', ['-c', 'exit 6']);
    const [[code], [quickCode]] = await Promise.all([once(theirs, 'exit'), once(quick, 'exit')]);
    expect(code).toBe(4);
    expect(quickCode).toBe(6);
    expect((await posix.waitpid(ours[0]!))!.exitCode).toBe(0);
    expect((await posix.waitpid(ours[1]!))!.exitCode).toBe(5);
    // And ours still report after child_process has installed its SIGCHLD handling.
    const later = track(posix.spawn('sh', ['-c', 'exit 9']));
    expect((await posix.waitpid(later))!.exitCode).toBe(9);
  });
});

describe('children and the event loop', () => {
  it('a running child keeps the loop alive; ref: false does not', async () => {
    const held = await runNode(
      `import { posix } from 'posix-mp';
       const start = Date.now();
       posix.spawn('sleep', ['1']);
       process.on('exit', () => console.log(Date.now() - start));`,
    );
    expect(held.stderr).toBe('');
    expect(Number(held.stdout)).toBeGreaterThanOrEqual(900);

    const free = await runNode(
      `import { posix } from 'posix-mp';
       const start = Date.now();
       const pid = posix.spawn('sleep', ['30'], { ref: false });
       console.log(pid);
       process.on('exit', () => console.log(Date.now() - start));`,
    );
    expect(free.stderr).toBe('');
    const [pid, elapsed] = free.stdout.trim().split('\n').map(Number);
    track(pid!);
    expect(elapsed).toBeLessThan(20_000);
    expect(alive(pid!)).toBe(true);
    process.kill(pid!, 'SIGKILL');
  });

  it('a pending waitpid keeps the loop alive even for an unref-ed child', async () => {
    const result = await runNode(
      `import { posix } from 'posix-mp';
       const pid = posix.spawn('sh', ['-c', 'sleep 0.5; exit 2'], { ref: false });
       console.log(JSON.stringify(await posix.waitpid(pid)));`,
    );
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toMatchObject({ exitCode: 2 });
  });
});

describe('deathSignal', () => {
  it('kills the program when its parent is SIGKILLed', async () => {
    const middle = spawnNode(
      `import { posix } from 'posix-mp';
       const doomed = posix.spawn('sleep', ['1000'], { deathSignal: 'SIGKILL' });
       const survivor = posix.spawn('sleep', ['1000'], { ref: false });
       console.log('pids', doomed, survivor);
       setInterval(() => {}, 1000);`,
    );
    const line = await waitForLine(middle, /^pids /);
    const [doomed, survivor] = line.split(' ').slice(1).map(Number);
    track(doomed!);
    track(survivor!);
    expect(alive(doomed!)).toBe(true);
    middle.kill('SIGKILL');
    await finished(middle);
    await until(() => !alive(doomed!), 'the grandchild with a death signal dies', { timeout: 30_000 });
    // Without a death signal, a program outlives its parent.
    expect(alive(survivor!)).toBe(true);
    process.kill(survivor!, 'SIGKILL');
  });

  for (const ending of ['terminate', 'natural exit'] as const) {
    it(`is not sent when the worker_thread that spawned the child ends (${ending})`, async () => {
      const cjs = JSON.stringify(path.resolve('dist/index.cjs'));
      // A ref-ed child keeps the worker's loop alive, so the worker is terminated with the child still
      // watched; an unref-ed one lets the worker end by itself.
      const worker = new Worker(
        `const { parentPort } = require('node:worker_threads');
         const { posix } = require(${cjs});
         const ref = ${ending === 'terminate'};
         parentPort.postMessage(posix.spawn('sleep', ['1000'], { deathSignal: 'SIGKILL', ref }));`,
        { eval: true },
      );
      const [pid] = (await once(worker, 'message')) as [number];
      track(pid);
      if (ending === 'terminate') await worker.terminate();
      else await once(worker, 'exit');
      // Give a wrongly delivered death signal every chance to arrive.
      await sleep(500);
      expect(alive(pid)).toBe(true);
      // The worker's environment is gone, but its child is still reaped when it exits: no zombie.
      process.kill(pid, 'SIGKILL');
      await until(() => procStat(pid) === null, 'the orphaned child is reaped');
    });
  }
});

describe('posix.daemonize', () => {
  it('starts a detached daemon that writes to a file and is not our child', async () => {
    const out = path.join(scratch, 'daemon.txt');
    const daemon = track(
      posix.daemonize('sh', ['-c', 'echo "$$ $PPID $(pwd) $(umask)"; echo oops >&2; exec sleep 1000'], {
        stdout: out,
        stderr: path.join(scratch, 'daemon.err'),
      }),
    );
    await until(() => readFileSync(out, 'utf8').endsWith('\n'), 'the daemon writes its line', { timeout: 30_000 });
    const [pid, ppid, cwd, umask] = readFileSync(out, 'utf8').trim().split(' ');
    expect(Number(pid)).toBe(daemon);
    expect(Number(ppid)).not.toBe(process.pid);
    expect(cwd).toBe('/');
    expect(umask).toBe('0000');
    expect(readFileSync(path.join(scratch, 'daemon.err'), 'utf8')).toBe('oops\n');
    await until(() => readlinkSync(`/proc/${daemon}/exe`).endsWith('sleep'), 'the daemon execs sleep');
    const stat = procStat(daemon)!;
    expect(stat.ppid).not.toBe(process.pid);
    // In a new session (not ours), but not its leader: it can never get a controlling terminal.
    expect(stat.session).not.toBe(procStat(process.pid)!.session);
    expect(stat.session).not.toBe(daemon);
    expect(readlinkSync(`/proc/${daemon}/fd/0`)).toBe('/dev/null');
    expect(() => posix.waitpidSync(daemon)).toThrow(expect.objectContaining({ code: 'ECHILD' }));
    // The intermediate process was reaped.
    expect(myChildren().filter((c) => c.state === 'Z')).toEqual([]);
    posix.kill(daemon, 'SIGKILL');
  });

  it('reports a daemon that cannot be started', () => {
    expect(() => posix.daemonize('posix-mp-no-such-daemon')).toThrow(
      expect.objectContaining({ code: 'ENOENT', syscall: 'execve' }),
    );
    expect(myChildren().filter((c) => c.state === 'Z')).toEqual([]);
  });
});

describe('signals, sessions, groups', () => {
  it('kill and killpg report missing processes; signal 0 probes', () => {
    const pid = track(posix.spawn('sleep', ['30']));
    expect(() => posix.kill(pid, 0)).not.toThrow();
    posix.kill(pid, 'SIGKILL');
    posix.waitpidSync(pid);
    // Above pid_max: never a process.
    expect(() => posix.kill(4194304 + 1, 0)).toThrow(expect.objectContaining({ code: 'ESRCH', syscall: 'kill' }));
    expect(() => posix.killpg(4194304 + 1, 'SIGTERM')).toThrow(expect.objectContaining({ code: 'ESRCH' }));
  });

  it('setsid in a child process; ignoreSignal and defaultSignal change this process only', async () => {
    const result = await runNode(
      `import { posix } from 'posix-mp';
       const sid = posix.setsid();
       console.log(sid === process.pid, posix.getpgid() === process.pid);
       posix.ignoreSignal('SIGUSR2');
       process.kill(process.pid, 'SIGUSR2');
       await new Promise((r) => setTimeout(r, 100));
       console.log('survived');
       // Children still start with the default disposition, which terminates.
       const pid = posix.spawn('sh', ['-c', 'kill -USR2 $$; sleep 5']);
       console.log((await posix.waitpid(pid)).signal);
       posix.defaultSignal('SIGUSR2');
       process.kill(process.pid, 'SIGUSR2');
       await new Promise((r) => setTimeout(r, 5000));
       console.log('not reached');`,
    );
    expect(result.stdout).toBe('true true\nsurvived\nSIGUSR2\n');
    expect(result.signal).toBe('SIGUSR2');
  });

  it('refuses dispositions that would break Node or child reaping', () => {
    expect(() => posix.ignoreSignal('SIGCHLD')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => posix.ignoreSignal('SIGKILL')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    const listener = (): void => {};
    process.on('SIGUSR1', listener);
    try {
      expect(() => posix.defaultSignal('SIGUSR1')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    } finally {
      process.off('SIGUSR1', listener);
    }
  });
});

describe('argument checks', () => {
  it('throws typed errors before any system call', async () => {
    const cases: [() => unknown, string][] = [
      [() => posix.spawn(42 as never), 'ERR_INVALID_ARG_TYPE'],
      [() => posix.spawn(''), 'ERR_INVALID_ARG_VALUE'],
      [() => posix.spawn('true', 'x' as never), 'ERR_INVALID_ARG_TYPE'],
      [() => posix.spawn('true', ['a\0b']), 'ERR_INVALID_ARG_VALUE'],
      [() => posix.spawn('true', [], { env: { A: 'x\0' } }), 'ERR_INVALID_ARG_VALUE'],
      [() => posix.spawn('true', [], { env: { 'A=B': 'x' } }), 'ERR_INVALID_ARG_VALUE'],
      [() => posix.spawn('true', [], { fds: [0, -1] }), 'ERR_OUT_OF_RANGE'],
      [() => posix.spawn('true', [], { fds: { x: 1 } as never }), 'ERR_INVALID_ARG_VALUE'],
      [() => posix.spawn('true', [], { fds: 3 as never }), 'ERR_INVALID_ARG_TYPE'],
      [() => posix.spawn('true', [], { setsid: true, pgid: 0 }), 'ERR_INVALID_ARG_VALUE'],
      [() => posix.spawn('true', [], { deathSignal: 'SIGNOPE' as never }), 'ERR_UNKNOWN_SIGNAL'],
      [() => posix.spawn('true', [], { deathSignal: 0 }), 'ERR_OUT_OF_RANGE'],
      [() => posix.kill(process.pid, 65), 'ERR_OUT_OF_RANGE'],
      [() => posix.kill(1.5), 'ERR_OUT_OF_RANGE'],
      [() => posix.waitpidSync(1, { timeout: -1 }), 'ERR_OUT_OF_RANGE'],
      [() => posix.daemonize('true', [], { umask: 0o1000 }), 'ERR_OUT_OF_RANGE'],
    ];
    for (const [call, code] of cases) expect(call).toThrow(expect.objectContaining({ code }));
    await expect(posix.waitpid('1' as never)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
  });

  it('accepts (file, options) like child_process.spawn', async () => {
    const pid = track(posix.spawn('sh', { env: { PATH: '/bin:/usr/bin' }, fds: [null, 1, 2] }));
    expect(await posix.waitpid(pid, { timeout: 20_000 })).toMatchObject({ exitCode: 0 });
  });
});
