/**
 * The loop a Pool worker runs: the target of every worker Process (built as its own entry, dist/pool_worker.js,
 * so that the ordinary Process machinery finds and starts it, prepared interpreters and all). It receives
 * chunks of tasks on its Connection, runs them one after the other, and sends the results back; it ends when
 * the parent closes the Connection, or after `maxTasksPerChild` chunks.
 */
import type { Connection } from '../comm/connection.js';
import { plainMessage } from '../comm/connection_message.js';
import { loadModule, locatedIn } from '../comm/location.js';
import { packFlat, type ResultMessage, type TaskMessage, type WorkMessage } from './protocol.js';
import { describeError } from './remote_error.js';

/** Results are sent as soon as this much time has passed since the last ones went, mid-message if need be. */
const FLUSH_MS = 2;

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === 'object' && typeof (value as PromiseLike<unknown>).then === 'function';
}

/**
 * Runs one chunk. Synchronous tasks cost no promise: only a task that returns one makes the rest of the
 * chunk asynchronous.
 */
function runChunk(fn: Function, star: boolean, items: ArrayLike<unknown>): unknown[] | Promise<unknown[]> {
  const values = new Array<unknown>(items.length);
  for (let i = 0; i < items.length; i++) {
    const value: unknown = star ? fn(...(items[i] as unknown[])) : fn(items[i]);
    if (isThenable(value)) return finishChunk(fn, star, items, values, i, value);
    values[i] = value;
  }
  return values;
}

async function finishChunk(fn: Function, star: boolean, items: ArrayLike<unknown>, values: unknown[], from: number, pending: PromiseLike<unknown>): Promise<unknown[]> {
  values[from] = await pending;
  for (let i = from + 1; i < items.length; i++) {
    const value: unknown = star ? fn(...(items[i] as unknown[])) : fn(items[i]);
    values[i] = isThenable(value) ? await value : value;
  }
  return values;
}

/** Sends results; one that cannot travel becomes that chunk's error. */
function sendResults(conn: Connection, results: ResultMessage[]): void {
  try {
    const packed: ResultMessage[] = [];
    for (const [chunkId, ms, values] of results) {
      const flat = values === undefined ? undefined : packFlat(values);
      if (flat === undefined) break;
      packed.push([chunkId, ms, flat]);
    }
    if (packed.length === results.length) conn.sendBytes(plainMessage(packed));
    else conn.send(results);
  } catch {
    for (const result of results) {
      try {
        conn.send([result]);
      } catch (error) {
        conn.send([[result[0], result[1], undefined, describeError(error)]]);
      }
    }
  }
}

/**
 * A worker's main loop (the Process target). `maxTasks` 0: no limit.
 * @internal
 */
export async function poolWorker(conn: Connection, initializer: Function | undefined, initargs: unknown[], maxTasks: number): Promise<void> {
  if (initializer) await initializer(...initargs);
  const functions = new Map<number, Function>();
  let done = 0;
  for (;;) {
    let message: WorkMessage;
    try {
      message = (await conn.recv()) as WorkMessage;
    } catch (error) {
      if ((error as { code?: unknown }).code === 'ERR_MP_EOF') break;
      throw error;
    }
    const [definitions, tasks] = message;
    for (const [id, fn] of definitions) {
      functions.set(id, typeof fn === 'function' ? fn : locatedIn(await loadModule(fn.module), fn));
    }
    let results: ResultMessage[] = [];
    let flushed = performance.now();
    for (const [chunkId, fnId, star, items] of tasks as TaskMessage[]) {
      const started = performance.now();
      let result: ResultMessage;
      try {
        let values = runChunk(functions.get(fnId)!, star, items);
        if (!Array.isArray(values)) values = await values;
        result = [chunkId, 0, values];
      } catch (error) {
        result = [chunkId, 0, undefined, describeError(error)];
      }
      const now = performance.now();
      result[1] = now - started;
      results.push(result);
      if (now - flushed >= FLUSH_MS) {
        sendResults(conn, results);
        results = [];
        flushed = now;
      }
    }
    if (results.length > 0) sendResults(conn, results);
    done += tasks.length;
    if (maxTasks > 0 && done >= maxTasks) break;
  }
  conn.close();
}
