/**
 * Pool: Python's `multiprocessing.Pool`, on worker Processes that each have their own channel (worker.ts).
 * Each call is a job (task_queue.ts) whose chunks are handed out round-robin to the workers with room; a
 * worker keeps a few chunks in flight — more when chunks are quick, so that small tasks go many to a
 * message — and answers with several chunks' results per message. A worker that dies rejects the chunks it
 * held with ERR_MP_WORKER_DIED and is replaced: the pool never hangs on it.
 */
import type { Locator } from '../comm/location.js';
import { invalidArgType, mpError } from '../internal/errors.js';
import { validateInteger, validateOptions, validateTimeout } from '../internal/validate.js';
import { cpuCount } from '../process/current.js';
import { validateStartMethod, type StartMethod } from '../process/start_method.js';
import { callerModule, locateTarget, validateTarget, type Target } from '../process/target.js';
import type { ResultMessage } from './protocol.js';
import { reviveError } from './remote_error.js';
import { Job, streamResults, type Chunk, type JobMode } from './task_queue.js';
import { PoolWorker, type WorkerHost } from './worker.js';

/** Options of {@link Pool}. */
export interface PoolOptions {
  /** Called as `initializer(...initargs)` once in each worker, when it starts. An exported function. */
  initializer?: (...args: any[]) => unknown;
  /** Arguments of `initializer` (they travel as Process arguments: shared objects included). */
  initargs?: readonly unknown[];
  /** A worker is replaced after this many tasks (chunks, as in Python). Default: never. */
  maxTasksPerChild?: number;
  /**
   * How the workers start (Python's `context` argument): `'forkserver'` or `'spawn'`. Default: the start
   * method at the time each worker starts (`getStartMethod()`).
   */
  startMethod?: StartMethod;
}

/** Options of every call on a {@link Pool}. */
export interface PoolCallOptions {
  /** Aborting rejects the call (its remaining tasks are not run; those running finish, ignored). */
  signal?: AbortSignal;
  /** Milliseconds for the whole call, after which it rejects with ERR_MP_TIMEOUT. */
  timeout?: number;
}

/** Options of the calls over many items ({@link Pool.map} and the like). */
export interface PoolMapOptions extends PoolCallOptions {
  /**
   * Items per task sent to a worker. map/starmap: by default as Python computes it (length / (4 ×
   * processes), rounded up), and growing 1, 2, 4, ... up to 256 for an async iterable; imap: 1.
   */
  chunksize?: number;
}

/**
 * At most this many chunks in flight per worker (quick tasks); one for slow ones, so that a task waits in
 * the parent, for whichever worker is free first, rather than behind another task in a busy worker.
 */
const MAX_IN_FLIGHT = 64;
const MIN_IN_FLIGHT = 1;
/** A worker should hold about this much work (ms): enough to cover a round trip to the parent. */
const HELD_WORK_MS = 4;

/** A pool of worker processes that run tasks (Python's `multiprocessing.Pool`). */
export class Pool {
  readonly #processes: number;
  readonly #initializer: Function | undefined;
  readonly #initargs: unknown[];
  readonly #maxTasks: number;
  readonly #startMethod: StartMethod | undefined;
  #state: 'run' | 'close' | 'terminate' = 'run';
  readonly #workers = new Set<PoolWorker>();
  #jobs: Job[] = [];
  readonly #functionIds = new Map<Function | string, number>();
  /** How long a chunk takes a worker, averaged (ms). */
  #chunkMs = HELD_WORK_MS;
  /** Resolved when every job has finished (join() after close()). */
  readonly #idleWaiters: (() => void)[] = [];
  #ending: Promise<void> | undefined;
  readonly #host: WorkerHost = {
    onResults: (worker, results) => this.#onResults(worker, results),
    onDied: (worker, exitCode) => this.#onDied(worker, exitCode),
  };

  /**
   * Starts `processes` workers (default {@link cpuCount}), all at once: they boot in parallel, and tasks
   * sent meanwhile wait for them. `setPreparedInterpreters(n)` ahead of time makes them ready sooner.
   */
  constructor(processes?: number, options?: PoolOptions) {
    this.#processes = processes === undefined ? cpuCount() : validateInteger(processes, 'processes', 1, 4096);
    const o = validateOptions<PoolOptions>(options);
    if (o.initializer !== undefined && typeof o.initializer !== 'function') {
      throw invalidArgType('options.initializer', 'a function', o.initializer);
    }
    this.#initializer = o.initializer;
    if (o.initargs !== undefined && !Array.isArray(o.initargs)) throw invalidArgType('options.initargs', 'an array', o.initargs);
    this.#initargs = o.initargs === undefined ? [] : [...o.initargs];
    this.#maxTasks = o.maxTasksPerChild === undefined ? 0 : validateInteger(o.maxTasksPerChild, 'options.maxTasksPerChild', 1, Number.MAX_SAFE_INTEGER);
    this.#startMethod = o.startMethod === undefined ? undefined : validateStartMethod(o.startMethod, 'options.startMethod');
    try {
      for (let i = 0; i < this.#processes; i++) this.#spawn();
    } catch (error) {
      for (const worker of this.#workers) void worker.terminate();
      throw error;
    }
  }

  /** The number of workers. */
  get processes(): number {
    return this.#processes;
  }

  /** Resolves with `fn(...args)` as run by a worker (Python's `apply_async`; await it for `apply`). */
  async apply<R = unknown>(fn: Target, args: readonly unknown[] = [], options?: PoolCallOptions): Promise<R> {
    if (!Array.isArray(args)) throw invalidArgType('args', 'an array', args);
    const [value] = await this.#all('apply', fn, [args], true, options, 1);
    return value as R;
  }

  /** `fn(item)` for each item, in input order (Python's `map`/`map_async`). */
  async map<R = unknown>(fn: Target, items: Iterable<unknown> | AsyncIterable<unknown>, options?: PoolMapOptions): Promise<R[]> {
    return (await this.#many('map', fn, items, false, options)) as R[];
  }

  /** `fn(...args)` for each argument list, in input order (Python's `starmap`). */
  async starmap<R = unknown>(fn: Target, items: Iterable<readonly unknown[]> | AsyncIterable<readonly unknown[]>, options?: PoolMapOptions): Promise<R[]> {
    return (await this.#many('starmap', fn, items, true, options)) as R[];
  }

  /**
   * `fn(item)` for each item, yielded in input order as they come. The input is read as workers need it,
   * never far ahead of the consumer. Leaving the loop early stops the call.
   */
  imap<R = unknown>(fn: Target, items: Iterable<unknown> | AsyncIterable<unknown>, options?: PoolMapOptions): AsyncIterableIterator<R> {
    return this.#stream('imap', 'ordered', fn, items, options) as AsyncIterableIterator<R>;
  }

  /** {@link imap}, yielding results as they complete (Python's `imap_unordered`). */
  imapUnordered<R = unknown>(fn: Target, items: Iterable<unknown> | AsyncIterable<unknown>, options?: PoolMapOptions): AsyncIterableIterator<R> {
    return this.#stream('imapUnordered', 'unordered', fn, items, options) as AsyncIterableIterator<R>;
  }

  /** No more calls; the workers exit once the work submitted is done (see {@link join}). */
  close(): void {
    if (this.#state === 'run') this.#state = 'close';
    this.#checkIdle();
  }

  /**
   * Stops at once: pending calls reject with ERR_MP_POOL_NOT_RUNNING, workers get SIGTERM (SIGKILL after a
   * second). Resolves once every worker has exited.
   */
  terminate(): Promise<void> {
    if (this.#state !== 'terminate') {
      this.#state = 'terminate';
      const error = mpError('ERR_MP_POOL_NOT_RUNNING', 'the pool was terminated');
      for (const job of this.#jobs.splice(0)) job.fail(error);
      const workers = [...this.#workers];
      this.#workers.clear();
      this.#ending = Promise.all(workers.map((worker) => worker.terminate())).then(() => undefined);
      this.#checkIdle();
    }
    return this.#ending!;
  }

  /** After close(): resolves when the work is done and every worker has exited; after terminate(): when they have exited. */
  async join(): Promise<void> {
    if (this.#state === 'run') throw mpError('ERR_MP_RUNNING', 'the pool is still running: call close() or terminate() before join()');
    if (this.#state === 'close') {
      await new Promise<void>((resolve) => {
        this.#idleWaiters.push(resolve);
        this.#checkIdle();
      });
    }
    await this.#ending;
  }

  /** Terminates the pool, as Python's `with Pool() as pool:` does on leaving the block. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.terminate();
  }

  // --- calls ---------------------------------------------------------------------------------------------

  #target(fn: Target): Function | Locator {
    const target = validateTarget(fn);
    if (target === undefined) throw invalidArgType('fn', 'a function or an object { module, export }', fn);
    // Refuses at once (ERR_MP_TARGET_NOT_FOUND) a function the workers could not import.
    const locator = locateTarget(target, typeof target === 'function' ? undefined : callerModule());
    return typeof target === 'function' ? target : locator;
  }

  #checkRunning(): void {
    if (this.#state !== 'run') throw mpError('ERR_MP_POOL_NOT_RUNNING', 'Pool not running');
  }

  async #many(call: string, fn: Target, items: unknown, star: boolean, options: PoolMapOptions | undefined): Promise<unknown[]> {
    const o = validateOptions<PoolMapOptions>(options);
    if (items === null || (typeof items !== 'object' && typeof items !== 'string')) throw invalidArgType('items', 'an iterable or async iterable', items);
    let input = items as Iterable<unknown> | AsyncIterable<unknown>;
    const isSync = typeof (input as Iterable<unknown>)[Symbol.iterator] === 'function';
    if (!isSync && typeof (input as AsyncIterable<unknown>)[Symbol.asyncIterator] !== 'function') {
      throw invalidArgType('items', 'an iterable or async iterable', items);
    }
    // As Python's map does list(iterable): the length gives the default chunksize.
    if (isSync && !Array.isArray(input)) input = Array.from(input as Iterable<unknown>);
    let chunksize: number | 'growing';
    if (o.chunksize !== undefined) chunksize = validateInteger(o.chunksize, 'options.chunksize', 1, Number.MAX_SAFE_INTEGER);
    else if (!isSync) chunksize = 'growing';
    else {
      const length = (input as unknown[]).length;
      chunksize = Math.max(1, Math.ceil(length / (this.#processes * 4)));
    }
    return this.#all(call, fn, input, star, o, chunksize);
  }

  #all(call: string, fn: Target, items: Iterable<unknown> | AsyncIterable<unknown>, star: boolean, options: PoolCallOptions | undefined, chunksize: number | 'growing'): Promise<unknown[]> {
    this.#checkRunning();
    const job = this.#submit(call, fn, items, star, 'all', chunksize, options);
    const release = this.#guard(job, options);
    const results = job.all();
    this.#dispatch();
    return results.finally(release);
  }

  #stream(call: string, mode: JobMode, fn: Target, items: unknown, options: PoolMapOptions | undefined): AsyncIterableIterator<unknown> {
    const o = validateOptions<PoolMapOptions>(options);
    this.#checkRunning();
    const valid =
      items !== null &&
      typeof items === 'object' &&
      (typeof (items as Iterable<unknown>)[Symbol.iterator] === 'function' || typeof (items as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function');
    if (!valid) throw invalidArgType('items', 'an iterable or async iterable', items);
    const chunksize = o.chunksize === undefined ? 1 : validateInteger(o.chunksize, 'options.chunksize', 1, Number.MAX_SAFE_INTEGER);
    const job = this.#submit(call, fn, items as Iterable<unknown>, false, mode, chunksize, o);
    const release = this.#guard(job, o);
    this.#dispatch();
    const results = streamResults(job);
    return (async function* () {
      try {
        yield* results;
      } finally {
        release();
      }
    })();
  }

  #submit(call: string, fn: Target, items: Iterable<unknown> | AsyncIterable<unknown>, star: boolean, mode: JobMode, chunksize: number | 'growing', options: PoolCallOptions | undefined): Job {
    const job = new Job(items, {
      fn: this.#target(fn),
      call,
      star,
      mode,
      chunksize,
      // A streaming call runs at most this many chunks ahead of its consumer.
      readAhead: this.#processes * MAX_IN_FLIGHT,
      wake: () => this.#dispatch(),
    });
    const o = validateOptions<PoolCallOptions>(options);
    if (o.signal?.aborted) throw o.signal.reason;
    this.#jobs.push(job);
    job.prime();
    return job;
  }

  /** Ends the job when its signal aborts or its time is up; returns what stops watching. */
  #guard(job: Job, options: PoolCallOptions | undefined): () => void {
    const { signal, timeout } = validateOptions<PoolCallOptions>(options);
    const ms = timeout === undefined ? -1 : validateTimeout(timeout);
    const onAbort = (): void => job.fail(signal!.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    const timer = ms >= 0 && Number.isFinite(ms) ? setTimeout(() => job.fail(mpError('ERR_MP_TIMEOUT', `${job.call} timed out after ${ms} ms`)), ms) : undefined;
    return () => {
      signal?.removeEventListener('abort', onAbort);
      if (timer !== undefined) clearTimeout(timer);
    };
  }

  // --- workers -------------------------------------------------------------------------------------------

  #spawn(): void {
    this.#workers.add(
      new PoolWorker(this.#host, { initializer: this.#initializer, initargs: this.#initargs, maxTasks: this.#maxTasks, startMethod: this.#startMethod }),
    );
  }

  #functionId(fn: Function | Locator): number {
    const key = typeof fn === 'function' ? fn : `${fn.module}#${fn.export}`;
    let id = this.#functionIds.get(key);
    if (id === undefined) {
      id = this.#functionIds.size;
      this.#functionIds.set(key, id);
    }
    return id;
  }

  /** Chunks a worker may hold: enough quick ones to cover a round trip, one slow one. */
  #inFlight(): number {
    return Math.max(MIN_IN_FLIGHT, Math.min(MAX_IN_FLIGHT, Math.ceil(HELD_WORK_MS / Math.max(this.#chunkMs, 0.001))));
  }

  #take(): Chunk | undefined {
    for (const job of this.#jobs) {
      const chunk = job.take();
      if (chunk) return chunk;
    }
    return undefined;
  }

  /**
   * Hands out chunks round-robin, the least busy workers first, to the workers that have used half of what
   * they may hold.
   */
  #dispatch(): void {
    if (this.#state === 'terminate') return;
    this.#jobs = this.#jobs.filter((job) => !job.finished);
    if (this.#jobs.length === 0) return this.#checkIdle();
    const limit = this.#inFlight();
    const batches = new Map<PoolWorker, Chunk[]>();
    const ready = [...this.#workers].filter((worker) => worker.held.size <= limit / 2 && worker.capacity(limit) > 0);
    for (const worker of ready.sort((a, b) => a.held.size - b.held.size)) batches.set(worker, []);
    let progress = batches.size > 0;
    while (progress) {
      progress = false;
      for (const [worker, batch] of batches) {
        if (batch.length >= worker.capacity(limit)) continue;
        const chunk = this.#take();
        if (!chunk) break;
        batch.push(chunk);
        progress = true;
      }
    }
    let lost = false;
    for (const [worker, batch] of batches) {
      if (batch.length === 0) continue;
      if (this.#send(worker, batch)) continue;
      // It is gone before it could receive them: they go to another worker. If it held others, its death is
      // reported (and it is replaced) when its stream ends; an idle one is reaped and replaced now.
      lost = true;
      if (worker.held.size > 0) continue;
      this.#workers.delete(worker);
      void worker.terminate();
      this.#replace();
    }
    if (lost) this.#dispatch();
  }

  /**
   * Sends chunks to a worker; false if it is gone (the chunks are given back). A chunk with something that
   * cannot travel fails its call, alone.
   */
  #send(worker: PoolWorker, chunks: Chunk[]): boolean {
    const functionId = (fn: Function | Locator): number => this.#functionId(fn);
    let failed: unknown;
    try {
      if (worker.send(chunks, functionId)) return true;
    } catch (error) {
      failed = error;
    }
    if (failed === undefined || chunks.length === 1) {
      if (failed !== undefined) chunks[0]!.job.failChunk(chunks[0]!, failed);
      else for (const chunk of chunks) chunk.job.giveBack(chunk);
      return failed !== undefined;
    }
    for (let i = 0; i < chunks.length; i++) {
      if (this.#send(worker, [chunks[i]!])) continue;
      for (const chunk of chunks.slice(i + 1)) chunk.job.giveBack(chunk);
      return false;
    }
    return true;
  }

  #onResults(worker: PoolWorker, results: ResultMessage[]): void {
    for (const [id, ms, values, error] of results) {
      const chunk = worker.held.get(id);
      if (!chunk) continue;
      worker.held.delete(id);
      this.#chunkMs = this.#chunkMs * 0.75 + ms * 0.25;
      if (values) chunk.job.complete(chunk, values);
      else chunk.job.failChunk(chunk, reviveError(error!));
    }
    if (worker.spent && worker.held.size === 0) {
      // maxTasksPerChild: this worker is done; a fresh one takes its place.
      this.#workers.delete(worker);
      void worker.stop();
      this.#replace();
    }
    this.#dispatch();
  }

  #onDied(worker: PoolWorker, exitCode: number | null): void {
    if (!this.#workers.delete(worker)) return;
    const held = [...worker.held.values()];
    worker.held.clear();
    for (const chunk of held) chunk.job.failChunk(chunk, worker.diedError(chunk, exitCode));
    this.#replace();
    this.#dispatch();
  }

  /** Starts a worker in place of one that is gone, while there is or may be work for it. */
  #replace(): void {
    if (this.#state === 'run' || (this.#state === 'close' && this.#ending === undefined)) this.#spawn();
  }

  /** After close(), once every job has finished: the workers are let go, and join() resolves. */
  #checkIdle(): void {
    if (this.#state !== 'close' || this.#jobs.some((job) => !job.finished)) return;
    if (this.#ending === undefined) {
      const workers = [...this.#workers];
      this.#workers.clear();
      this.#ending = Promise.all(workers.map((worker) => worker.stop())).then(() => undefined);
    }
    for (const resolve of this.#idleWaiters.splice(0)) resolve();
  }
}
