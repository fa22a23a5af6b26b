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
 */
import { readFileSync } from 'node:fs';
import { inspect } from 'node:util';

// The whole package, first: a prepared interpreter has it loaded before its job arrives, and every class of
// shared object has registered how it is revived (reduction.ts) whether or not the user's module imports it.
import { Event } from '../sync/event.js';
import '../index.js';
import { Lock } from '../sync/lock.js';
import { binding } from '../internal/native.js';
import { CHANNEL_FD } from './prepared.js';
import { runtimes, type Runtime } from './process.js';
import { setChildState, type ChildState } from './current.js';
import { encodeJob, environmentBlock, parseEnvironmentBlock, receiveJob, sendJob, type Job } from './job.js';
import { ZYGOTE_ARG } from './forkserver.js';
import { prepareZygote, serveForks } from './zygote.js';
import { Semaphore } from '../sync/semaphore.js';
import { loadReferences } from '../comm/reduction.js';
import { Pipe } from '../comm/pipe.js';
import { isCommonJs, loadModule, locatedIn } from '../comm/location.js';
import { Value } from '../shared/value.js';

const SIGKILL = 9;

/** Prints a failure the way Python's child does (`Process Process-1:` and the traceback), exits 1. */
function fail(name: string, error: unknown): never {
  // The bootstrap's own errors (a target it cannot find, ...) are about the user's code: their stack,
  // inside this file, would only hide the message.
  const code = (error as { code?: unknown } | undefined)?.code;
  let text: string;
  if (error instanceof Error && typeof code === 'string' && code.startsWith('ERR_MP_')) {
    text = `${error.name} [${code}]: ${error.message}`;
  } else {
    text = error instanceof Error && error.stack ? error.stack : inspect(error);
  }
  process.stderr.write(`Process ${name}:\n${text}\n`);
  process.exit(1);
}

/**
 * This interpreter's environment, written down while it waits for its job (in the fork server, before it
 * forks). A job's is compared with it: when they differ, only the variables that differ are set, each a
 * setenv() call.
 */
let ownEnvironment: string | undefined;

/** Makes this process look like the parent at `start()`: environment, working directory, argv. */
function adoptEnvironment(job: Job): void {
  const current = ownEnvironment ?? environmentBlock();
  if (job.env !== current) {
    const had = parseEnvironmentBlock(current);
    const wanted = parseEnvironmentBlock(job.env);
    for (const key of had.keys()) if (!wanted.has(key)) delete process.env[key];
    for (const [key, value] of wanted) if (had.get(key) !== value) process.env[key] = value;
  }
  if (process.cwd() !== job.cwd) process.chdir(job.cwd);
  process.argv = [process.argv[0]!, ...job.argv.slice(1)];
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
  const module = job.processClass?.locator.module ?? job.target?.module;
  if (module !== undefined && isCommonJs(module) && all.cjs) return all.cjs;
  return all.esm!;
}

/** The module of the rehearsed job (child_warm_up.ts). */
const REHEARSAL_MODULE = new URL('./child_warm_up.js', import.meta.url).href;
/** The target of Pool workers (pool/worker_main.ts): loaded while idle, as it only defines functions. */
const POOL_WORKER_MODULE = new URL('./pool_worker.js', import.meta.url).href;

/**
 * Runs a whole job through this bootstrap while idle, as a real one will run: built and sent on a socket pair
 * of its own, received, its module loaded by name as users' modules import this package, a Process subclass
 * and its target found, the arguments revived — shared objects and a Connection — and the target run. Every
 * function on that path is then compiled (in a fresh interpreter, ~2 ms of a start), and a child of the fork
 * server inherits it so. Nothing of the current process changes: its environment, working directory and argv
 * are adopted as they are, no child state is set, and the objects are closed.
 */
async function rehearse(): Promise<void> {
  try {
    await import('posix-mp');
  } catch {
    // Not resolvable by its name from here (a copy of dist/ outside the package): the loader is warmed below.
    await import(new URL('./index.js', import.meta.url).href);
  }
  // The loader reads each module that a user's module imports with readFileSync(url) (into a Buffer), a path
  // of Node's that nothing above takes: taken once here, Node's code for it is compiled (~0.5 ms of a child's
  // import otherwise).
  readFileSync(new URL(import.meta.url));
  const [near, far] = Pipe();
  const objects = { value: new Value('q', 0n), lock: new Lock(), semaphore: new Semaphore(0), event: new Event(), connection: far };
  const { body, files } = encodeJob({
    target: { module: REHEARSAL_MODULE, export: 'rehearse' },
    processClass: { locator: { module: REHEARSAL_MODULE, export: 'Rehearsal' }, fields: {} },
    args: [objects],
    name: 'rehearsal',
    daemon: false,
    identity: [],
  });
  const [ours, theirs] = binding.socketPair();
  try {
    sendJob(ours, body, files);
    const { job, fds } = receiveJob(theirs)!;
    adoptEnvironment(job);
    await reviveJob(job, fds, await findJobCode(job))();
  } finally {
    binding.closeFd(ours);
    binding.closeFd(theirs);
    for (const object of [...Object.values(objects), near]) object.close();
  }
  // A Pool's workers find their loop loaded (~1–2 ms less per worker started); should it fail to load, each
  // worker loads it itself and reports why.
  await loadModule(POOL_WORKER_MODULE).catch(() => undefined);
}

/**
 * Ends the process once its event loop has drained, as Node would, but without tearing down the environment
 * and heap, which takes milliseconds that `join()` would wait for. If the user's code listens for
 * 'beforeExit' itself (and may schedule more work there), Node's own ending is left alone.
 */
function exitWhenDrained(): void {
  const onBeforeExit = (): void => {
    if (process.listenerCount('beforeExit') === 1) exitDrained();
    else process.off('beforeExit', onBeforeExit);
  };
  process.on('beforeExit', onBeforeExit);
}

/** The status process.exit() would end with now. */
function currentExitCode(): number {
  return Number(process.exitCode ?? 0) || 0;
}

/**
 * What process.exit() does, without calling it: Node's code for it would be compiled in each child, which
 * never ran it before (~0.2 ms of a start). An 'exit' listener may still call process.exit() itself.
 */
function exitDrained(): never {
  (process as unknown as { _exiting: boolean })._exiting = true;
  process.emit('exit', currentExitCode());
  return (process as unknown as { reallyExit(code: number): never }).reallyExit(currentExitCode());
}

/**
 * Makes every process.exit() of this child — the target's process.exit(n), a failure's exit 1, the drained
 * loop's exit 0 — end with _exit() once the 'exit' listeners have run, instead of Node's full teardown:
 * process.exit() emits 'exit' and then calls process.reallyExit(), which is where this takes over. The exit
 * status is reported on the job channel first (see reportExitOn in native/process/process.cc).
 */
function exitFast(): void {
  (process as unknown as { reallyExit(code: number): never }).reallyExit = (code) => binding.exitNow(code);
}

/** What a job runs, found in its modules: its target, its Process subclass, the functions among its arguments. */
interface Found {
  target: Function | undefined;
  cls: Function | undefined;
  functions: Function[];
}

/** Imports the modules a job names (the user's code: `isMainProcess()` is false and starts throw meanwhile). */
async function findJobCode(job: Job): Promise<Found> {
  const target = job.target ? locatedIn(await loadModule(job.target.module), job.target) : undefined;
  const cls = job.processClass ? locatedIn(await loadModule(job.processClass.locator.module), job.processClass.locator) : undefined;
  return { target, cls, functions: await loadReferences(job.reduced.references) };
}

/** Revives a job's arguments (shared objects as working handles) and returns what runs it. */
function reviveJob(job: Job, fds: number[], { target, cls, functions }: Found): () => Promise<unknown> {
  const runtime = runtimeFor(job, cls);
  const objects = runtime.reviveShared(job.reduced.shared, job.reduced.fileIds, fds, functions);
  const args = runtime.decode(job.args, objects, functions) as unknown[];
  if (cls) {
    const fields = runtime.decode(job.processClass!.fields, objects, functions) as Record<string, unknown>;
    const self = runtime.makeSelf(cls, { name: job.name, daemon: job.daemon, target: target as never, args }, fields);
    return async () => self.run();
  }
  return async () => (target as ((...a: unknown[]) => unknown) | undefined)?.(...args);
}

/**
 * In the zygote: imports the modules of setForkserverPreload(), as a child imports its target's module —
 * `isMainProcess()` false and starts refused meanwhile — then is no child again. A module that fails is left
 * out: each child imports it itself, and reports the error.
 */
async function preload(modules: string[]): Promise<void> {
  if (modules.length === 0) return;
  setChildState({ name: 'ForkServer', daemon: false, parentPid: process.ppid, identity: [], bootstrapping: true });
  for (const module of modules) {
    try {
      await loadModule(module);
    } catch {
      // Left out (see above).
    }
  }
  setChildState(undefined);
}

async function main(): Promise<void> {
  // A zygote (the 'forkserver' start method) serves forks instead of running a job; each forked child
  // continues below as a prepared interpreter.
  const zygote = process.argv[2] === ZYGOTE_ARG;
  if (zygote) prepareZygote();
  await rehearse();
  // Let the event loop turn before the blocking read: work V8 posted as tasks meanwhile — the scavenge that
  // booting and warming up made due, ~2-3 ms — runs now, not when the job has arrived.
  await new Promise((resolve) => setTimeout(resolve, 1));
  await new Promise((resolve) => setImmediate(resolve));
  // A zygote's arguments: the Node options and environment variables it was given for itself (see
  // prepared.ts), then the modules to preload.
  const added = zygote ? process.argv[3]!.split(' ').filter((item) => item !== '') : [];
  for (const variable of added) if (!variable.startsWith('--')) delete process.env[variable.slice(0, variable.indexOf('='))];
  if (zygote) await preload(process.argv.slice(4));
  ownEnvironment = environmentBlock();
  if (zygote) await serveForks(added.filter((item) => item.startsWith('--')));
  // The channel stays open for the exit report (exitFast), but must not reach programs this process spawns.
  binding.closeOnExec(CHANNEL_FD);
  binding.reportExitOn(CHANNEL_FD);
  // A prepared interpreter sleeps here, in a blocking read, until it gets a job or its parent goes away.
  const received = receiveJob(CHANNEL_FD);
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

  let run: () => Promise<unknown>;
  try {
    adoptEnvironment(job);
    const found = await findJobCode(job);
    state.bootstrapping = false;
    run = reviveJob(job, fds, found);
  } catch (error) {
    fail(job.name, error);
  }
  exitWhenDrained();
  exitFast();
  try {
    await run();
  } catch (error) {
    fail(job.name, error);
  }
}

// Not awaited at the top level: a target whose promise never settles must end like any Node program whose
// event loop drains (exit 0), not as an unsettled top-level await (exit 13).
main().catch((error: unknown) => fail('(bootstrap)', error));
