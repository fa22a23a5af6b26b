/**
 * Per-process state that a child forked by the fork server (the 'forkserver' start method) must not share
 * with the zygote it was forked from, nor with its siblings: lock owner tokens, arenas of shared memory, ...
 * Each module holding such state registers a hook that renews it; a forked child runs them all before it
 * runs anything else (as Python's `multiprocessing.util.register_after_fork`).
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
