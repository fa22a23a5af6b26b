/**
 * The current process: whether it is a Process child, its name, the children it started. Python's
 * `current_process()`, `parent_process()`, `active_children()` state.
 *
 * Process-wide state lives on the global object under registered symbols, so that the ESM and CommonJS
 * copies of this package (a CommonJS module requiring it in an ESM program) agree on it.
 */
import { availableParallelism } from 'node:os';

import { invalidArgType } from '../internal/errors.js';
import type { Process } from './process.js';

/** What a child knows about itself, set by the bootstrap (child.ts) before it imports the user's module. */
export interface ChildState {
  name: string;
  daemon: boolean;
  parentPid: number;
  identity: number[];
  /** True while the target's module is being imported: a `start()` then would start processes forever. */
  bootstrapping: boolean;
}

/** The Process objects this process started, and the counter that numbers them (Python's `_counter`). */
export interface Registry {
  counter: number;
  children: Set<Process>;
}

const CHILD = Symbol.for('posix-mp.child');
const REGISTRY = Symbol.for('posix-mp.processes');
const MAIN_NAME = Symbol.for('posix-mp.main-name');
const CURRENT = Symbol.for('posix-mp.current');

type Global = typeof globalThis & {
  [CHILD]?: ChildState;
  [REGISTRY]?: Registry;
  [MAIN_NAME]?: string;
  [CURRENT]?: CurrentProcess;
};
const global = globalThis as Global;

/** This process's state as a child, or undefined in a main process. */
export function childState(): ChildState | undefined {
  return global[CHILD];
}

/** Marks this process as a Process child (called by the bootstrap), or no longer one (undefined). */
export function setChildState(state: ChildState | undefined): void {
  global[CHILD] = state;
}

/** This process's children and counter. */
export function registry(): Registry {
  return (global[REGISTRY] ??= { counter: 0, children: new Set() });
}

/** What {@link currentProcess} returns. */
export interface CurrentProcess {
  /** `'MainProcess'` in a main process, the Process's name in a child. Settable, as in Python (a label). */
  name: string;
  readonly pid: number;
  readonly daemon: boolean;
}

/**
 * The current process: `{ name: 'MainProcess', ... }` in a main process, the Process's name in a child.
 * Always the same object; assigning its `name` renames this process (as `current_process().name = ...`).
 */
export function currentProcess(): CurrentProcess {
  return (global[CURRENT] ??= {
    get name(): string {
      return childState()?.name ?? global[MAIN_NAME] ?? 'MainProcess';
    },
    set name(value: string) {
      if (typeof value !== 'string') throw invalidArgType('name', 'of type string', value);
      const state = childState();
      if (state) state.name = value;
      else global[MAIN_NAME] = value;
    },
    get pid(): number {
      return process.pid;
    },
    get daemon(): boolean {
      return childState()?.daemon ?? false;
    },
  });
}

/** The process that started this one, or `null` in a main process. */
export function parentProcess(): { pid: number } | null {
  const state = childState();
  return state ? { pid: state.parentPid } : null;
}

/** The number of CPUs this process may use (`os.availableParallelism()`). */
export function cpuCount(): number {
  return availableParallelism();
}

/** False in a child started by Process/Pool — also while that child imports the module of its target. */
export function isMainProcess(): boolean {
  return childState() === undefined;
}
