// Helpers for multi-process tests: unique names, and real child Node processes that use the built package.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect } from 'vitest';

import type { Semaphore } from 'posix-mp';

let counter = 0;

/** This test run's id (set by global-setup.ts); the /dev/shm leak check looks for it. */
const run = process.env.PMP_TEST_RUN ?? 'norun';

/** A name no other test (or test run) uses: `pmp-test-<run>-<tag>-<pid>-<n>`. */
export function uniqueName(tag: string): string {
  return `pmp-test-${run}-${tag}-${process.pid}-${++counter}${randomBytes(2).toString('hex')}`;
}

/** The outcome of a finished child. */
export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Starts `node --input-type=module -e <code> -- ...args`; the code can `import ... from 'posix-mp'` (the built
 * package) and finds `args` in `process.argv.slice(1)`.
 */
export function spawnNode(code: string, args: string[] = [], env: NodeJS.ProcessEnv = {}): ChildProcess {
  return spawn(process.execPath, ['--input-type=module', '-e', code, '--', ...args], {
    cwd: new URL('..', import.meta.url),
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

/** Collects a child's output until it exits. */
export async function finished(child: ChildProcess): Promise<ChildResult> {
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
  // Output can still be in flight at 'exit'; 'close' says it has all been read — unless a grandchild that
  // inherited the pipes keeps them open (some tests make exactly such grandchildren), hence the bound.
  if (child.stdout && !child.stdout.readableEnded) {
    await Promise.race([once(child, 'close'), new Promise((resolve) => setTimeout(resolve, 500).unref())]);
  }
  return { code, signal, stdout, stderr };
}

/** Runs Node code in a child process to completion. */
export function runNode(code: string, args: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<ChildResult> {
  return finished(spawnNode(code, args, env));
}

/** Resolves with the first line of the child's stdout that matches `pattern`. */
export function waitForLine(child: ChildProcess, pattern: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    const onData = (data: Buffer): void => {
      buffer += data.toString('utf8');
      for (const line of buffer.split('\n')) {
        if (pattern.test(line)) {
          child.stdout?.off('data', onData);
          resolve(line);
          return;
        }
      }
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`child exited (${code}) before printing ${pattern}`)));
  });
}

/**
 * Starts `code` as spawnNode does and waits until the child prints a line matching `pattern`; `done` is the
 * child's outcome (in an object: awaiting a bare promise of it would wait for the child to end).
 */
export async function spawnUntilLine(code: string, args: string[], pattern: RegExp): Promise<{ done: Promise<ChildResult> }> {
  const child = spawnNode(code, args);
  const done = finished(child);
  await waitForLine(child, pattern);
  return { done };
}

/**
 * The addon instance the package itself uses (lib/internal/native.ts: `POSIX_MP_ADDON` or node-gyp-build), for tests
 * that look at native state such as `pendingWaits()`.
 */
export function loadAddon<T>(): T {
  const require = createRequire(import.meta.url);
  const override = process.env.POSIX_MP_ADDON;
  return override ? require(path.resolve(override)) : require('node-gyp-build')(fileURLToPath(new URL('..', import.meta.url)));
}

/**
 * The child's exit status and all of its output (collected until its pipes close, which can be after 'exit').
 * Rejects if it has not finished after `ms` — the test's finally block then kills it — instead of hanging.
 */
export function within(child: ChildProcess, ms = 45_000, what = 'child'): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** SIGKILLs the children that are still running (cleanup in finally blocks). */
export function killAll(children: ChildProcess[]): void {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** How `until` waits. */
export interface UntilOptions {
  /** Gives up after this many milliseconds (default 20,000): a bound that turns a hang into a failure. */
  timeout?: number;
  /** Milliseconds between checks (default 5). */
  interval?: number;
  /** Called on failure; what it returns is added to the error's message (e.g. the output of other processes). */
  explain?: () => unknown;
}

/**
 * Checks `condition` every few milliseconds until it holds; rejects, naming `what`, if it still does not
 * after `options.timeout`.
 */
export async function until(condition: () => boolean, what: string, options: UntilOptions = {}): Promise<void> {
  const { timeout = 20_000, interval = 5, explain } = options;
  const deadline = Date.now() + timeout;
  while (!condition()) {
    if (Date.now() > deadline) {
      const detail = explain === undefined ? undefined : await explain();
      const suffix = detail === undefined ? '' : `: ${typeof detail === 'string' ? detail : JSON.stringify(detail)}`;
      throw new Error(`timed out after ${timeout} ms waiting until ${what}${suffix}`);
    }
    await sleep(interval);
  }
}

/** Closes and unlinks each named object, in order (finally blocks of tests that create them). */
export function closeAndUnlink(...objects: Array<{ close(): void; unlink(): void }>): void {
  for (const object of objects) {
    object.close();
    object.unlink();
  }
}

/**
 * This process's share of a locked-counter test: `n` read-modify-write increments of `counter[0]` under
 * `mutex`, yielding to the event loop inside every `yieldEvery`th one, so that only the semaphore keeps
 * increments from being lost.
 */
export async function lockedIncrements(mutex: Semaphore, counter: BigUint64Array, n: number, yieldEvery: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    expect(await mutex.acquire({ timeout: 30_000 })).toBe(true);
    const value = counter[0]!;
    if (i % yieldEvery === 0) await new Promise((resolve) => setImmediate(resolve));
    counter[0] = value + 1n;
    mutex.release();
  }
}

/**
 * Compiles the C peer `test/peers/<name>.c` against native/include/posix_mp.h (-Wall -Wextra -Werror) once
 * for the test file, before its tests, and removes it after them. `run` starts it with `args` and collects
 * its output; `start` starts it with its stdin a pipe, and returns it running.
 */
export function cPeer(name: string): {
  run(args: (string | number)[]): Promise<ChildResult>;
  start(args: (string | number)[]): ChildProcess;
} {
  const root = fileURLToPath(new URL('..', import.meta.url));
  let workDir: string | undefined;
  let binary = '';
  beforeAll(async () => {
    workDir = mkdtempSync(path.join(tmpdir(), `pmp-${name}-`));
    binary = path.join(workDir, name);
    const source = path.join(root, 'test/peers', `${name}.c`);
    await promisify(execFile)('gcc', ['-O2', '-Wall', '-Wextra', '-Werror', '-I', path.join(root, 'native/include'), source, '-o', binary]);
  });
  afterAll(() => {
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });
  return {
    run: (args) => finished(spawn(binary, args.map(String), { stdio: ['ignore', 'pipe', 'pipe'] })),
    start: (args) => spawn(binary, args.map(String), { stdio: ['pipe', 'pipe', 'pipe'] }),
  };
}
