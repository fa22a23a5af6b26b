/**
 * The messages between a Pool and one of its workers, over the worker's own duplex Pipe (values travel
 * through reduction, as Connection.send sends them). Several chunks go in one message each way.
 * @internal
 */
import type { Locator } from '../comm/location.js';
import type { RemoteError } from './remote_error.js';

/**
 * A function the worker has not seen yet (itself, by reference, or where to import it): sent once per
 * worker, then named by its id. @internal
 */
export type FunctionDefinition = [id: number, fn: Function | Locator];

/** One chunk of a call: call function `fnId` on each item (spread as arguments if `star`). @internal */
export type TaskMessage = [chunkId: number, fnId: number, star: boolean, items: unknown[]];

/** Parent → worker. @internal */
export type WorkMessage = [definitions: FunctionDefinition[], tasks: TaskMessage[]];

/**
 * A chunk's outcome: its results, or the error of the item that threw (the chunk stops there). `ms`: how
 * long the worker spent on it, which tells the parent how many chunks to keep in flight. @internal
 */
export type ResultMessage = [chunkId: number, ms: number, values: unknown[]] | [chunkId: number, ms: number, values: undefined, error: RemoteError];

/** Whether every value is a primitive: a message of such values can skip reduction (plainMessage). @internal */
export function allPrimitive(values: readonly unknown[]): boolean {
  for (const value of values) {
    const type = typeof value;
    if (type === 'object' ? value !== null : type === 'function' || type === 'symbol') return false;
  }
  return true;
}
