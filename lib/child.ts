/**
 * The program a Process child runs: `node [the parent's Node options] dist/child.js`, with its job channel
 * on fd 3 (see prepared.ts). Loading this file loads posix-mp; then the child blocks until its job arrives —
 * at once for a cold child, whenever a `start()` comes for a prepared one — and becomes that Process:
 * environment, working directory and argv of the parent at `start()`, its name and daemon flag, the target
 * found in its module, the arguments with their shared objects.
 *
 * Exit status, as in Python: 0 when the target returns (or its promise resolves) and the event loop has
 * drained; n on `process.exit(n)`; 1 when the target throws or rejects (the stack is printed on stderr
 * after `Process <name>:`), or when the target cannot be found (the message says what to export).
 * @internal
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { inspect } from 'node:util';

// The whole package, first: a prepared interpreter has it loaded before its job arrives, and every class of
// shared object has registered how it is revived (transfer.ts) whether or not the user's module imports it.
import './index.js';
import { binding } from './native.js';
import { CHANNEL_FD } from './prepared.js';
import { findExport, runtimes, setChildState, type ChildState, type Runtime } from './process.js';
import { receiveJob, type Job } from './transfer.js';

const SIGKILL = 9;
const require = createRequire(import.meta.url);

/** Prints a failure the way Python's child does (`Process Process-1:` and the traceback), exits 1. */
function fail(name: string, error: unknown): never {
  const text = error instanceof Error && error.stack ? error.stack : inspect(error);
  process.stderr.write(`Process ${name}:\n${text}\n`);
  process.exit(1);
}

/** Makes this process look like the parent at `start()`: environment, working directory, argv. */
function adoptEnvironment(job: Job): void {
  for (const key of Object.keys(process.env)) if (!(key in job.env)) delete process.env[key];
  Object.assign(process.env, job.env);
  if (process.cwd() !== job.cwd) process.chdir(job.cwd);
  process.argv = [process.argv[0]!, ...job.argv.slice(1)];
}

/** Whether a module was loaded as CommonJS (then its code uses the CommonJS copy of this package). */
function isCommonJs(url: string): boolean {
  return url.startsWith('file:') && require.cache[fileURLToPath(url)] !== undefined;
}

/**
 * The copy of posix-mp the user's code uses — the one whose Process a subclass extends, or the CommonJS copy
 * for a CommonJS module that loaded it — so that revived shared objects are instances of the classes that
 * code sees.
 */
function runtimeFor(job: Job, cls: Function | undefined): Runtime {
  const all = runtimes();
  if (cls) {
    for (const runtime of Object.values(all)) if (cls.prototype instanceof runtime.Process) return runtime;
  }
  const module = job.processClass?.module ?? job.target?.module;
  if (module !== undefined && isCommonJs(module) && all.cjs) return all.cjs;
  return all.esm!;
}

/**
 * Runs the module loader once the way a user's module will — a module file it has not seen, imported by a
 * bare package name (this package's own name resolves to its ESM entry, whose code is already loaded through
 * child.js) — so that the loader's code is compiled before the job comes: the job's import of the user's
 * module then costs only that module.
 */
async function warmUp(): Promise<void> {
  const self = 'posix-mp';
  try {
    await import(self);
  } catch {
    await import(new URL('./index.js', import.meta.url).href);
  }
}

/**
 * Ends the process once its event loop has drained, as Node would, but through process.exit(): that skips
 * tearing down the environment and heap, which takes milliseconds that `join()` would wait for.
 */
function exitWhenDrained(): void {
  process.once('beforeExit', () => process.exit());
}

async function main(): Promise<void> {
  await warmUp();
  // A prepared interpreter sleeps here, in a blocking read, until it gets a job or its parent goes away.
  const received = receiveJob(CHANNEL_FD);
  binding.closeFd(CHANNEL_FD);
  if (received === null) process.exit(0);
  const { job, fds } = received;
  const state: ChildState = {
    name: job.name,
    daemon: job.daemon,
    parentPid: job.parentPid,
    identity: job.identity,
    bootstrapping: true,
  };
  setChildState(state);
  // Non-daemon children survive their parent (Python's semantics); a prepared interpreter was started with
  // SIGKILL as its death signal, which only daemons keep.
  binding.setParentDeathSignal(job.daemon ? SIGKILL : 0);

  let target: Function | undefined;
  let cls: Function | undefined;
  try {
    adoptEnvironment(job);
    if (job.target) target = findExport(await import(job.target.module), job.target, 'target function');
    if (job.processClass) cls = findExport(await import(job.processClass.module), job.processClass, 'Process subclass');
  } catch (error) {
    fail(job.name, error);
  }
  state.bootstrapping = false;

  const runtime = runtimeFor(job, cls);
  let args: unknown[];
  let fields: Record<string, unknown> | undefined;
  try {
    const objects = runtime.reviveShared(job.shared, job.fileIds, fds);
    args = runtime.decode(job.args, objects) as unknown[];
    if (job.processClass) fields = runtime.decode(job.processClass.fields, objects) as Record<string, unknown>;
  } catch (error) {
    fail(job.name, error);
  }
  exitWhenDrained();
  try {
    if (cls) {
      const self = runtime.makeSelf(cls, { name: job.name, daemon: job.daemon, target: target as never, args }, fields!);
      await self.run();
    } else if (target) {
      await (target as (...a: unknown[]) => unknown)(...args);
    }
  } catch (error) {
    fail(job.name, error);
  }
}

// Not awaited at the top level: a target whose promise never settles must end like any Node program whose
// event loop drains (exit 0), not as an unsettled top-level await (exit 13).
main().catch((error: unknown) => fail('(bootstrap)', error));
