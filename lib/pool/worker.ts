/**
 * One Pool worker, seen from the parent: a daemon Process running the library's worker loop
 * (worker_main.ts), and a duplex Pipe that is its own channel — so the parent always knows which chunks the
 * worker holds, and rejects exactly those if it dies. The worker's end of the Pipe reaches it as a Process
 * argument; the parent closes its copy at once, so the worker's death shows as the end of the stream.
 */
import type { Connection } from '../comm/connection.js';
import { plainMessage } from '../comm/connection_message.js';
import { Pipe } from '../comm/pipe.js';
import type { Locator } from '../comm/location.js';
import { mpError } from '../internal/errors.js';
import { signalName } from '../posix/signals.js';
import { Process } from '../process/process.js';
import type { StartMethod } from '../process/start_method.js';
import { packFlat, type FunctionDefinition, type ResultMessage, type TaskMessage } from './protocol.js';
import type { Chunk } from './task_queue.js';

/** The worker loop, found by the ordinary Process machinery (its own build entry: dist/pool_worker.js). */
const WORKER_TARGET = { module: new URL('./pool_worker.js', import.meta.url), export: 'poolWorker' };

/** How long a worker whose stream ended may take to exit before it is killed. */
const EXIT_GRACE_MS = 1000;

/** What a worker needs from its pool. @internal */
export interface WorkerHost {
  onResults(worker: PoolWorker, results: ResultMessage[]): void;
  /** The worker's stream ended without the pool asking: it died (`exitCode` as Process's). */
  onDied(worker: PoolWorker, exitCode: number | null): void;
}

/** What starts a worker. @internal */
export interface WorkerSetup {
  initializer: Function | undefined;
  initargs: unknown[];
  maxTasks: number;
  startMethod: StartMethod | undefined;
}

let workers = 0;

/** @internal */
export class PoolWorker {
  readonly process: Process;
  readonly #pid: number;
  /** The chunks sent and not answered, by chunk id. */
  readonly held = new Map<number, Chunk>();
  readonly #conn: Connection;
  readonly #host: WorkerHost;
  readonly #maxTasks: number;
  /** The function ids this worker has received. */
  readonly #known = new Set<number>();
  #sent = 0;
  #reading = false;
  /** Closed by the pool, or gone: takes no more chunks. */
  #done = false;

  constructor(host: WorkerHost, setup: WorkerSetup) {
    this.#host = host;
    this.#maxTasks = setup.maxTasks;
    const [mine, theirs] = Pipe();
    this.#conn = mine;
    this.process = new Process({
      target: WORKER_TARGET,
      args: [theirs, setup.initializer, setup.initargs, setup.maxTasks],
      name: `PoolWorker-${++workers}`,
      daemon: true,
      startMethod: setup.startMethod,
    });
    try {
      this.process.start();
    } catch (error) {
      mine.close();
      throw error;
    } finally {
      theirs.close();
    }
    this.#pid = this.process.pid!;
  }

  /** How many more chunks it may be sent with `limit` in flight; 0 once it is closed, or spent (maxTasksPerChild). */
  capacity(limit: number): number {
    if (this.#done) return 0;
    const room = limit - this.held.size;
    return this.#maxTasks > 0 ? Math.min(room, this.#maxTasks - this.#sent) : room;
  }

  /** Whether it has been sent all the chunks maxTasksPerChild allows. */
  get spent(): boolean {
    return this.#maxTasks > 0 && this.#sent >= this.#maxTasks;
  }

  /**
   * Sends chunks (functions it has not seen go along, once). False if the worker cannot receive them — it
   * is gone: they never reached it.
   */
  send(chunks: Chunk[], functionId: (fn: Function | Locator) => number): boolean {
    const definitions: FunctionDefinition[] = [];
    const tasks: TaskMessage[] = [];
    let flat = true;
    for (const chunk of chunks) {
      const id = functionId(chunk.job.fn);
      if (!this.#known.has(id)) {
        this.#known.add(id);
        definitions.push([id, chunk.job.fn]);
      }
      const packed: ArrayLike<unknown> | undefined = flat ? packFlat(chunk.items) : undefined;
      flat &&= packed !== undefined;
      tasks.push([chunk.id, id, chunk.job.star, packed ?? chunk.items]);
    }
    try {
      // Functions go by reference, through reduction, in a message of their own: the tasks may then be flat.
      if (definitions.length > 0) this.#conn.send([definitions, []]);
      if (flat) this.#conn.sendBytes(plainMessage([[], tasks]));
      else this.#conn.send([[], chunks.map((chunk, i) => [chunk.id, tasks[i]![1], chunk.job.star, chunk.items])]);
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (code !== 'EPIPE' && code !== 'ECONNRESET') throw error;
      for (const [id] of definitions) this.#known.delete(id);
      this.#done = true;
      return false;
    }
    this.#sent += chunks.length;
    for (const chunk of chunks) this.held.set(chunk.id, chunk);
    if (!this.#reading) void this.#read();
    return true;
  }

  /** Reads results while it holds chunks (an idle worker keeps nothing waiting on the event loop). */
  async #read(): Promise<void> {
    this.#reading = true;
    try {
      while (this.held.size > 0) this.#host.onResults(this, (await this.#conn.recv()) as ResultMessage[]);
    } catch (error) {
      if (this.#conn.closed) return;
      this.#done = true;
      this.#conn.close();
      const code = await this.#exitCode();
      this.process.close();
      this.#host.onDied(this, code);
    } finally {
      this.#reading = false;
    }
  }

  /** The exit code of a worker whose stream ended: it is killed if it does not exit by itself at once. */
  async #exitCode(): Promise<number | null> {
    const code = await this.process.join(EXIT_GRACE_MS);
    if (code !== null) return code;
    this.process.kill();
    return this.process.join();
  }

  /** Lets the worker end (it exits when its stream ends) and waits for it. */
  async stop(): Promise<void> {
    this.#done = true;
    this.#conn.close();
    await this.#exitCode();
    this.process.close();
  }

  /** Ends the worker now (SIGTERM, then SIGKILL if it is still there after a second), and waits for it. */
  async terminate(): Promise<void> {
    this.#done = true;
    this.#conn.close();
    if (this.process.exitCode === null) this.process.terminate();
    await this.#exitCode();
    this.process.close();
  }

  /** The error a chunk it held is rejected with when it died. */
  diedError(chunk: Chunk, exitCode: number | null): Error {
    const how =
      exitCode === null ? 'ended' : exitCode < 0 ? `was killed by ${signalName(-exitCode)}` : `exited with code ${exitCode}`;
    const n = chunk.items.length;
    const tasks = n === 1 ? `task ${chunk.start}` : `tasks ${chunk.start}..${chunk.start + n - 1}`;
    const fn = typeof chunk.job.fn === 'function' ? chunk.job.fn.name || '<anonymous>' : (chunk.job.fn as Locator).export;
    const error = mpError(
      'ERR_MP_WORKER_DIED',
      `Pool worker ${this.process.name} (pid ${this.#pid}) ${how} while it held ${tasks} of ${chunk.job.call}(${fn})`,
    );
    return Object.assign(error, {
      pid: this.#pid,
      exitCode: exitCode !== null && exitCode >= 0 ? exitCode : null,
      signal: exitCode !== null && exitCode < 0 ? signalName(-exitCode) : null,
      taskIndex: chunk.start,
    });
  }
}
