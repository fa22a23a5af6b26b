/**
 * The guardian: Python's `resource_tracker` for named objects that must not outlive the process that made
 * them (everything a Manager makes). It is a small Node process (guardian_main.ts, built as
 * dist/guardian.js) that this process starts at its first registration and feeds through a pipe whose write
 * end only this process holds (close-on-exec, never passed to a child: posix.spawn hands a child only the
 * descriptors it lists, and the fork server's zygote is an exec'd process of its own). When this process
 * dies, however it dies — SIGKILL and the OOM killer included — the kernel closes that end; the guardian
 * reads EOF, unlinks the objects still registered, and exits. Processes that have them open keep using them,
 * as after `unlink()`.
 *
 * Why a spawned Node rather than a native fork(): a fork of this process would hold a copy-on-write image
 * of its whole memory, which costs as much again as this process rewrites its pages (V8 rewrites its heap
 * constantly), and a clone sharing the memory would be killed with this process by the OOM killer. The
 * guardian costs ~6 MB of private memory and ~0.1 s of CPU once, and this process pays one write() of a few
 * bytes per registration: no round trip, nothing per container operation.
 *
 * Registrations are counted here, so the guardian is told only of the first registration of a name or
 * prefix and of its last unregistration. A Manager registers its name prefix once, not each object.
 */
import { closeSync, existsSync, writeSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { registerAfterFork } from '../internal/after_fork.js';
import { binding } from '../internal/native.js';
import { spawnChild } from '../posix/spawn.js';

/**
 * What a registration covers: a file of /dev/shm (`NAME`, or `sem.NAME` for a semaphore), or every object
 * whose name starts with it (files `NAME` and `sem.NAME` alike).
 */
export const enum Guarded {
  File = 0x46, // 'F'
  Prefix = 0x50, // 'P'
}

/** The record that undoes a registration: its tag in lower case. */
const UNDO = 0x20;

/** dist/guardian.js, next to this module's bundle. */
const GUARDIAN_SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'guardian.js');

/** This thread's guardian, shared by every copy (ESM and CommonJS) of the package in it. */
interface GuardianState {
  /** Our end of the pipe to the guardian, or undefined before the first registration. */
  fd: number | undefined;
  /** Registrations by record (tag + name): how many times each is registered. */
  readonly registered: Map<string, number>;
  /** Set once the guardian could not be started or fed: registrations are then only counted. */
  failed: boolean;
}

const STATE = Symbol.for('posix-mp.guardian');
const state: GuardianState = ((globalThis as { [STATE]?: GuardianState })[STATE] ??= {
  fd: undefined,
  registered: new Map(),
  failed: false,
});
const registered = state.registered;

// A child forked by the fork server must not hold the zygote's end: it would delay the zygote's guardian's EOF.
registerAfterFork(() => {
  if (state.fd !== undefined) closeSync(state.fd);
  state.fd = undefined;
  registered.clear();
});

/**
 * Registers a file or a prefix (see {@link Guarded}): if this process dies before {@link unguard}, the
 * guardian unlinks it.
 */
export function guard(kind: Guarded, name: string): void {
  const record = String.fromCharCode(kind) + name;
  const count = registered.get(record) ?? 0;
  registered.set(record, count + 1);
  if (count === 0) send(record);
}

/** Undoes one {@link guard} of the same file or prefix. */
export function unguard(kind: Guarded, name: string): void {
  const record = String.fromCharCode(kind) + name;
  const count = registered.get(record);
  if (count === undefined) return;
  if (count > 1) {
    registered.set(record, count - 1);
    return;
  }
  registered.delete(record);
  send(String.fromCharCode(kind | UNDO) + name);
}

/** Writes one record; a guardian that died (EPIPE) is replaced once, and told everything registered. */
function send(record: string): void {
  if (state.failed) return;
  try {
    if (state.fd !== undefined) return write(state.fd, record);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPIPE') return fail(error);
    closeSync(state.fd!);
  }
  state.fd = undefined;
  try {
    const fd = (state.fd = start());
    // `registered` already holds `record` if it registers something; an undo needs no replay.
    for (const known of registered.keys()) write(fd, known);
  } catch (error) {
    fail(error);
  }
}

function fail(error: unknown): void {
  state.failed = true;
  process.emitWarning(
    `posix-mp: the guardian that removes a Manager's objects if this process is killed could not be run: ${String(error)}`,
    { code: 'MP_GUARDIAN' },
  );
}

/** Starts the guardian on a new pipe: the read end is its stdin; returns the write end, which stays here. */
function start(): number {
  // Checked here, or a Node that cannot load it would be started again at every registration.
  if (!existsSync(GUARDIAN_SCRIPT)) throw new Error(`${GUARDIAN_SCRIPT} is missing (run the package's build)`);
  const [readFd, writeFd] = binding.pipe();
  try {
    const options = {
      // No NODE_OPTIONS (a --require or --inspect meant for the application).
      env: { ...process.env, NODE_OPTIONS: undefined },
      cwd: '/',
      fds: [readFd, null, null],
      // No terminal's signals: Ctrl-C kills the application's process group, and the guardian must outlive it.
      setsid: true,
      ref: false,
    };
    // Its exit status is collected (no zombie) and dropped: the next registration finds EPIPE and replaces it.
    spawnChild(process.execPath, ['--v8-pool-size=0', GUARDIAN_SCRIPT], options, () => {});
    return writeFd;
  } catch (error) {
    closeSync(writeFd);
    throw error;
  } finally {
    closeSync(readFd);
  }
}

/** Writes `record` and its terminating NUL in one write (atomic on a pipe), waiting while the pipe is full. */
function write(fd: number, record: string): void {
  const bytes = Buffer.from(`${record}\0`);
  for (;;) {
    try {
      writeSync(fd, bytes);
      return;
    } catch (error) {
      // The pipe is non-blocking and full: the guardian is still starting. Wait for it as a blocking write would.
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
      Atomics.wait(PAUSE, 0, 0, 1);
    }
  }
}

const PAUSE = new Int32Array(new SharedArrayBuffer(4));
