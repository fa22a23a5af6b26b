// `npm run demo` runs every example of examples/ (ports of the seed tutorials) and checks that each left no
// process running and nothing in /dev/shm. This runs it once and checks the lines that show each example did
// what its seed program does — not the lines whose order or outcome depends on timing.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

import { beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

interface Demo {
  code: number | null;
  stdout: string;
  stderr: string;
  /** The output of each example, by file name. */
  sections: Map<string, string[]>;
}

async function runDemo(): Promise<Demo> {
  // A shared hold on the build lock: nobody's `npm run build:ts` replaces dist/ while the examples use it (a
  // child booting right then would not find dist/child.js).
  const child = spawn('flock', ['-s', '/tmp/pmp-build.lock', 'npm', 'run', 'demo', '--silent'], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const [code] = (await once(child, 'exit')) as [number | null];
  const sections = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of stdout.split('\n')) {
    const header = /^=== (\S+) \| /.exec(line);
    if (header) sections.set(header[1]!, (current = []));
    else if (line.startsWith('=== ')) current = undefined;
    else current?.push(line);
  }
  return { code, stdout, stderr, sections };
}

/** The largest number of holders at once, from "acquired"/"release" lines printed while holding. */
function maxHolders(lines: string[], acquired: RegExp, released: RegExp): number {
  let holders = 0;
  let max = 0;
  for (const line of lines) {
    if (acquired.test(line)) max = Math.max(max, ++holders);
    else if (released.test(line)) holders--;
  }
  return max;
}

const count = (lines: string[], pattern: RegExp): number => lines.filter((l) => pattern.test(l)).length;
const sorted = (lines: string[], pattern: RegExp): string[] => lines.filter((l) => pattern.test(l)).sort();

describe('npm run demo', () => {
  let demo: Demo;
  const out = (file: string): string[] => {
    const lines = demo.sections.get(file);
    if (!lines) throw new Error(`no output section for ${file}`);
    return lines;
  };

  beforeAll(async () => {
    demo = await runDemo();
  }, 300_000);

  it('runs every example, which all exit with 0 and leave nothing behind', () => {
    expect(demo.code, demo.stdout + demo.stderr).toBe(0);
    expect(demo.sections.size).toBe(39);
    expect(demo.stdout).toContain('every example exited with 0, left no process running and nothing in /dev/shm');
    expect(demo.stdout).not.toContain('PROBLEM:');
    // The only child that fails is the one that is meant to (Python prints "Process <name>:" the same way).
    expect(demo.stderr.split('\n').filter((l) => /^Process \S+:$/.test(l))).toEqual(['Process raises:']);
    expect(demo.stderr).toContain('Error: There was an error!');
    expect(demo.stderr).not.toMatch(/Cannot find module|ERR_MP_/);
  });

  it('seed 000: Process with args, subclass, Lock, Semaphore, Event with a timeout', () => {
    const proc = out('000-process.mjs');
    expect(proc).toContain('p.name: Process-1');
    expect(proc).toContain('p.is_alive: true');
    expect(proc).toContainEqual(expect.stringMatching(/^p\.pid: \d+$/));
    expect(proc).toContainEqual(expect.stringMatching(/^The number of CPU is:\d+$/));
    expect(proc).toContainEqual(expect.stringMatching(/^child {3}p\.name:Process-1\tp\.id\d+$/));
    expect(proc).toContain('END!!!!!!!!!!!!!!!!!');
    expect(count(proc, /^The time is /)).toBe(5);
    expect(count(out('000-clock-process.mjs'), /^the time is /)).toBe(5);

    // Two runs of 9 lines: the Lock kept the two writers apart.
    const file = out('000-lock-file.mjs');
    expect(file.slice(0, 2)).toEqual(['end', 'the file has 18 lines in 2 runs:']);
    expect(file.slice(2).filter(Boolean).sort()).toEqual(['  9 x Lock acquired directly', '  9 x Lockd acquired via with']);

    const semaphore = out('000-semaphore.mjs');
    expect(sorted(semaphore, /acquire$/)).toEqual([1, 2, 3, 4, 5].map((n) => `Process-${n}acquire`));
    expect(sorted(semaphore, /release$/)).toEqual([1, 2, 3, 4, 5].map((n) => `Process-${n}release`));
    expect(maxHolders(semaphore, /acquire$/, /release$/)).toBe(2);

    const event = out('000-event-timeout.mjs');
    expect(event).toContain('wait_for_event_timeout:starting');
    expect(event).toContainEqual(expect.stringMatching(/^wait_for_event_timeout:e\.is_set->(true|false)$/));
    expect(event).toContain('main: event is set');
  });

  it('seed 001: create (CJS), naming, daemons, terminate, exit codes, subclass (CJS), Event', () => {
    expect(sorted(out('001-create.cjs'), /^Worker:/)).toEqual([0, 1, 2, 3, 4].map((n) => `Worker: ${n}`));

    expect(sorted(out('001-naming.mjs'), /\S/)).toEqual(
      ['Process-3', 'my_service', 'worker 1'].flatMap((n) => [`${n} Exiting`, `${n} Starting`]).sort(),
    );

    const daemon = out('001-daemon.mjs');
    expect(daemon).toContain('d.is_alive() true');
    expect(daemon).toContain('Exiting : non-daemon');
    expect(daemon).not.toContain('Exiting : daemon'); // it died with the main process
    const joined = out('001-daemon-join.mjs');
    expect(joined).toContain('Exiting : daemon');
    expect(joined.indexOf('d.is_alive() false')).toBeGreaterThan(joined.indexOf('Exiting : daemon'));

    const terminate = out('001-terminate.mjs');
    expect(terminate[0]).toBe("BEFORE: <Process name='Process-1' initial> false");
    expect(terminate).toContainEqual(expect.stringMatching(/^DURING: <Process name='Process-1' pid=\d+ parent=\d+ started> true$/));
    expect(terminate).toContainEqual(expect.stringMatching(/^JOINED: <Process name='Process-1' pid=\d+ parent=\d+ stopped exitcode=-15> false$/));

    expect(out('001-exitcode.mjs').filter((l) => l.includes('.exitcode = '))).toEqual([
      '     exit_error.exitcode = 1',
      '        exit_ok.exitcode = 0',
      '   return_value.exitcode = 0',
      '         raises.exitcode = 1',
      '     terminated.exitcode = -15',
    ]);

    expect(sorted(out('001-subclass.cjs'), /^In /)).toEqual([1, 2, 3, 4, 5].map((n) => `In Worker-${n}`));

    const event = out('001-event.mjs');
    expect(event).toContain('wait_for_event: starting');
    expect(event).toContain('wait_for_event: e.is_set()-> true');
    expect(event).toContainEqual(expect.stringMatching(/^wait_for_event_timeout: e\.is_set\(\)-> (true|false)$/));
    expect(event).toContain('main: event is set');
  });

  it('seed 002: posix.spawn/kill/daemonize, Process, Semaphore, Event, Lock, module re-import, Pipe, Manager list, Value/Array', () => {
    const call = out('002-subprocess-call.mjs');
    expect(call).toContainEqual(expect.stringMatching(/ 002-subprocess-call\.mjs$/));
    expect(call.filter(Boolean).at(-1)).toBe('0');
    expect(out('002-signal-returncode.mjs')).toEqual([expect.stringMatching(/^\d+$/), '-2', 'the child was interrupted by a signal', '']);

    const simple = out('002-process.mjs');
    expect(count(simple, /^hello fgawg \d+(\.\d+)?$/)).toBe(3);
    expect(simple).toContain('end');

    const mine = out('002-myprocess.mjs');
    const mainPid = /^\(main process pid: (\d+)\)$/.exec(mine.find((l) => l.startsWith('(main'))!)![1];
    const pids = mine.filter((l) => /^\d+ \d+$/.test(l));
    expect(pids).toHaveLength(3);
    for (const pair of pids) expect(pair.split(' ')[0]).toBe(pair.split(' ')[1]); // self.pid == os.getpid()
    expect(mine.filter((l) => /^\d+$/.test(l))).toEqual([mainPid, mainPid, mainPid]); // os.getppid()

    const semaphore = out('002-semaphore.mjs');
    expect(sorted(semaphore, /^hello world/)).toEqual([...Array(10).keys()].map((i) => `hello world ${i}`));
    expect(maxHolders(semaphore, /^Semaphore acquired$/, /^Semaphore release$/)).toBe(2);

    const event = out('002-event.mjs');
    expect(count(event, /^wait_for_event:starting$/)).toBe(5);
    expect(count(event, /^wait_for_event:e\.is_set\(\)->true$/)).toBe(5);
    expect(count(event, /^wait_for_event_timeout:starting$/)).toBe(5);
    expect(count(event, /^wait_for_event_timeout:e\.is_set->(true|false)$/)).toBe(5);

    const hellos = [...Array(10).keys()].map((i) => `hello world ${i}`);
    for (const file of ['002-lock-none.mjs', '002-lock.mjs', '002-global-lock.mjs']) {
      expect(sorted(out(file), /^hello world/)).toEqual(hellos);
      expect(out(file)).toContain('end');
    }
    // Under the lock the ten 5-"second" sleeps (50 ms each) cannot overlap: at least 2.5 s in all.
    const lock = out('002-lock.mjs');
    expect(Number(lock[lock.indexOf('end') + 1])).toBeGreaterThanOrEqual(2.5);

    expect(count(out('002-module-reimport.mjs'), /^66666$/)).toBe(4);

    const daemon = out('002-fork-daemon.mjs');
    const daemonPid = /^daemon started, pid (\d+)$/.exec(daemon[0]!)?.[1];
    expect(daemonPid).toBeDefined();
    expect(daemon).toContain(`its stdout, one line each: ${daemonPid} 0 1 2 3 4 5 6 7 8 9`);
    expect(daemon).toContain('its work file: "hello "');
    expect(daemon).toContain('daemon killed');

    expect(out('002-pipe-class.mjs')).toEqual(["[ 'fawfw', 57 ]", 'end', '']);
    expect(out('002-pipe-function.mjs')).toEqual([
      "[ 'fwafaw', 444 ]",
      'end',
      'one way | reader.writable: false | writer.readable: false',
      '',
    ]);
    const managed = out('002-manager-list.mjs');
    expect(managed[0]).toMatch(/^\[\d, \d, \d\]$/);
    expect([...managed[0]!.matchAll(/\d/g)].map(([d]) => d).sort()).toEqual(['0', '1', '2']);
    expect(managed[1]).toBe('end');

    expect(out('value-array.mjs')).toEqual(['3.1415927', '[0, -1, -2, -3, -4, -5, -6, -7, -8, -9]', '']);
  });

  it('seeds 003 and 004, and the shared counter', () => {
    const setClear = out('003-event-set-clear.mjs').filter((l) => l.startsWith('[F]'));
    expect(setClear).toEqual(['[F] child unblocked', '[F] child blocked', '[F] started again', '[F] stopped again']);

    const run = out('004-run-proc.mjs');
    expect(run).toEqual([
      expect.stringMatching(/^Parent process \d+\.$/),
      'Child process will start.',
      expect.stringMatching(/^Run child process test \(\d+\)\.\.\.$/),
      'Child process end.',
      '',
    ]);
    expect(out('004-lock-balance.mjs')).toEqual(['0', '']);
    const pool = out('004-pool.mjs');
    expect(pool[0]).toMatch(/^Parent process \d+\.$/);
    expect(count(pool, /^Run task \d \(\d+\)\.\.\.$/)).toBe(5);
    expect(count(pool, /^Task \d runs \d\.\d\d seconds\.$/)).toBe(5);
    expect(new Set(pool.filter((l) => l.startsWith('Run task')).map((l) => /\((\d+)\)/.exec(l)![1])).size).toBe(4);
    expect(pool.at(-2)).toBe('All subprocesses done.');
    const applied = out('002-pool-apply-async.mjs');
    expect(count(applied, /^\d \d+ start$/)).toBe(18);
    expect(count(applied, /^\d \d+ start2$/)).toBe(5);
    expect(count(applied, /^\d end$/)).toBe(18);
    expect(maxHolders(applied.slice(0, applied.indexOf('end')), /^\d \d+ start$/, /^\d end$/)).toBeLessThanOrEqual(3);
    const results = applied.filter((l) => l.startsWith('result ')).map((l) => (JSON.parse(l.slice(7)) as number[])[0]);
    expect(results).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(applied).toContain('two functions: end');
    expect(applied).toContain('about 4 rounds of 3 tasks');
    expect(applied).toContain('blocking apply: one task at a time');
    expect(out('002-pool-processes.mjs')).toEqual([
      'worker processes right after Pool(3): 3',
      '10 quick tasks ran in 3 worker processes',
      '10 slow tasks ran in 3 worker processes',
      'worker processes after join(): 0',
      '',
    ]);
    expect(out('shared-counter.mjs')).toContain('final total: 20000 (expected 20000) OK');
  });

  it('seeds 002 and 003: Queue between processes', () => {
    const queue = out('002-queue.mjs');
    expect(sorted(queue, /^\[ \d, \d+ \]$/).map((l) => l.slice(0, 3))).toEqual(['[ 0', '[ 1', '[ 2']);
    expect(queue).toContain('end');
    expect(out('003-queue.mjs').filter(Boolean)).toEqual(['1']);
    // A class instance through a Queue keeps its class: the worker calls its method.
    expect(out('001-queue-object.mjs')).toContain('Doing something fancy in Process-1 for Fancy Dan!');
    // Task objects through a JoinableQueue: each consumer calls them, join() returns once all are done.
    const joinable = out('001-joinable-queue.mjs');
    const consumers = Number(/^Creating (\d+) consumers$/.exec(joinable[0] ?? '')?.[1]);
    expect(consumers).toBeGreaterThan(0);
    expect(sorted(joinable, /^Consumer-\d+: \d \* \d$/).map((l) => l.replace(/^Consumer-\d+: /, '')).sort()).toEqual(
      Array.from({ length: 10 }, (_, i) => `${i} * ${i}`),
    );
    expect(count(joinable, /^Consumer-\d+: Exiting$/)).toBe(consumers);
    expect(sorted(joinable, /^Result: /)).toEqual(Array.from({ length: 10 }, (_, i) => `Result: ${i} * ${i} = ${i * i}`).sort());
  });
});
