/**
 * The messages between a Pool and one of its workers, over the worker's own duplex Pipe (values travel
 * through reduction, as Connection.send sends them). Several chunks go in one message each way.
 */
import type { Locator } from '../comm/location.js';
import type { RemoteError } from './remote_error.js';

/**
 * A function the worker has not seen yet (itself, by reference, or where to import it): sent once per
 * worker, then named by its id. @internal
 */
export type FunctionDefinition = [id: number, fn: Function | Locator];

/** One chunk of a call: call function `fnId` on each item (spread as arguments if `star`). @internal */
export type TaskMessage = [chunkId: number, fnId: number, star: boolean, items: ArrayLike<unknown>];

/** Parent → worker. @internal */
export type WorkMessage = [definitions: FunctionDefinition[], tasks: TaskMessage[]];

/**
 * A chunk's outcome: its results, or the error of the item that threw (the chunk stops there). `ms`: how
 * long the worker spent on it, which tells the parent how many chunks to keep in flight. @internal
 */
export type ResultMessage = [chunkId: number, ms: number, values: ArrayLike<unknown>] | [chunkId: number, ms: number, values: undefined, error: RemoteError];

/** Lists of numbers at least this long travel as a Float64Array. */
const PACK_NUMBERS = 8;

/**
 * Items or results as they travel: when every value is a primitive, a message of them can skip reduction
 * (plainMessage), and a list of numbers goes as a Float64Array — copied as bytes, where structured clone would
 * encode and decode each number. Undefined when some value is an object (reduction must look at it).
 * @internal
 */
export function packFlat(values: ArrayLike<unknown>): ArrayLike<unknown> | undefined {
  let numbers = true;
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    const type = typeof value;
    if (type === 'number') continue;
    numbers = false;
    if (type === 'object' ? value !== null : type === 'function' || type === 'symbol') return undefined;
  }
  return numbers && values.length >= PACK_NUMBERS ? Float64Array.from(values as ArrayLike<number>) : values;
}
