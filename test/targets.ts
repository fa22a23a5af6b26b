// Real child Processes whose targets are the exports of one fixture module ({ module, export }), for the
// multi-process test files that start many of them.
import { expect } from 'vitest';

import { activeChildren, Process } from 'posix-mp';

/** Starting and joining Processes that run exports of one fixture module. */
export interface Targets {
  /** Starts a Process that runs export `name` of the module with `args`. */
  start(name: string, args: unknown[]): Process;
  /**
   * Joins `p` and expects it to have succeeded (a failing target exits 1, its stack on stderr); a child still
   * running after the bound is killed, so a hang is a failure.
   */
  joined(p: Process): Promise<void>;
}

/** `start` and `joined` for the targets in `module`; `joinTimeout` (ms) only turns a hang into a failure. */
export function targetsIn(module: URL, joinTimeout: number): Targets {
  return {
    start(name, args) {
      const p = new Process({ target: { module, export: name }, args });
      p.start();
      return p;
    },
    async joined(p) {
      await p.join(joinTimeout);
      if (p.exitCode === null) p.kill();
      expect(p.exitCode).toBe(0);
    },
  };
}

/** Kills this process's children that are still running (for afterAll: a failed test leaves none behind). */
export function killChildren(): void {
  for (const p of activeChildren()) p.kill();
}
