// Everything a benchmark creates — named semaphores and shared memory, child processes — is registered with a
// Scope, which closes, unlinks and kills it all on dispose(), also when the benchmark threw. run.mjs disposes
// every live scope if it is interrupted, and checks /dev/shm for leftovers at the end.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { once } from 'node:events';

import { Semaphore, SharedMemory } from 'posix-mp';

/** Every name this benchmark process creates starts with this (see leftovers()). */
export const NAME_PREFIX = `pmp-bench-${process.pid}-`;

const live = new Set();

/** A unique name for a benchmark object. */
export function uniqueName(tag) {
  return `${NAME_PREFIX}${tag}-${randomBytes(3).toString('hex')}`;
}

/** Disposes every scope still open (used on SIGINT/SIGTERM and uncaught errors). */
export function disposeAll() {
  for (const scope of [...live]) scope.dispose();
}

/** Names in /dev/shm this process created and did not remove (semaphores appear as sem.NAME). */
export function leftovers() {
  return readdirSync('/dev/shm').filter((f) => f.includes(NAME_PREFIX));
}

/** Owns the objects and processes of one benchmark. */
export class Scope {
  #cleanups = [];

  constructor() {
    live.add(this);
  }

  /** Registers `fn` to run on dispose (in reverse order of registration). */
  defer(fn) {
    this.#cleanups.push(fn);
  }

  /** A new named Semaphore (exclusive, unique name), closed and unlinked on dispose. */
  semaphore(value, tag) {
    const sem = new Semaphore(value, { name: uniqueName(tag), exclusive: true });
    this.defer(() => {
      sem.close();
      Semaphore.unlink(sem.name);
    });
    return sem;
  }

  /** A new named SharedMemory of `size` bytes, closed and unlinked on dispose. */
  sharedMemory(size, tag) {
    const shm = new SharedMemory({ name: uniqueName(tag), create: true, size });
    this.defer(() => {
      shm.close();
      shm.unlink();
    });
    return shm;
  }

  /** Starts a child process (stdout piped, stderr inherited); killed on dispose if still running. */
  spawn(command, args) {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = once(child, 'exit');
    this.defer(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    return { child, exited };
  }

  /** Runs every cleanup; a failing one does not stop the others (ENOENT means someone already removed it). */
  dispose() {
    live.delete(this);
    for (const fn of this.#cleanups.splice(0).reverse()) {
      try {
        fn();
      } catch (error) {
        if (error?.code !== 'ENOENT') console.error(`bench cleanup failed: ${error?.message ?? error}`);
      }
    }
  }
}

/** Resolves with the first stdout line of `child` (rejects if it exits first). */
export function firstLine(child) {
  return new Promise((resolve, reject) => {
    let buffer = '';
    const onData = (data) => {
      buffer += data.toString('utf8');
      const newline = buffer.indexOf('\n');
      if (newline < 0) return;
      child.stdout.off('data', onData);
      child.off('exit', onExit);
      resolve(buffer.slice(0, newline));
    };
    const onExit = (code, signal) => reject(new Error(`child exited (${signal ?? code}) before writing a line`));
    child.stdout.on('data', onData);
    child.once('exit', onExit);
  });
}
