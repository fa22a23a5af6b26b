/**
 * Per-process state that a child forked by the fork server (the 'forkserver' start method) must not share
 * with the zygote it was forked from, nor with its siblings: lock owner tokens, arenas of shared memory, ...
 * Each module holding such state registers a hook that renews it; a forked child runs them all before it
 * runs anything else (as Python's `multiprocessing.util.register_after_fork`).
 *
 * State that stays right in a copy needs no hook: what is keyed by V8 objects or script ids (location.ts's
 * caches; its inspector session is in-process and synchronous, no thread, and a zygote never opens one), the
 * prototype trap of indexing.ts, and the process globals of current.ts and process.ts (a zygote runs no job
 * and starts no Process, so a child starts with no registry, no child state and no exit handlers). Threads
 * are not copied at all: a zygote starts no waiter or spawner thread (zygote.ts checks before each fork) and
 * watches no child and no Connection on its event loop.
 */

const HOOKS = Symbol.for('posix-mp.after-fork');

/** The hooks of every copy (ESM and CommonJS) of the package in this process. */
function hooks(): (() => void)[] {
  const g = globalThis as { [HOOKS]?: (() => void)[] };
  return (g[HOOKS] ??= []);
}

/** Registers `hook` to run in a forked child. */
export function registerAfterFork(hook: () => void): void {
  hooks().push(hook);
}

/** Runs every registered hook, in registration order (called once, in a freshly forked child). */
export function runAfterForkHooks(): void {
  for (const hook of hooks()) hook();
}
