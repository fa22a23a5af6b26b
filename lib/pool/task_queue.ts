/**
 * One call on a Pool (apply, map, imap, ...) as a job: its input cut into chunks, handed to workers on
 * demand, and its results put back in input order (or in completion order for imapUnordered). The input is
 * read only as chunks are taken — an async iterable one chunk ahead — and a streaming job stops taking
 * chunks while too many results wait for the consumer (bounded read-ahead).
 */
import type { Locator } from '../comm/location.js';
import { mpError } from '../internal/errors.js';

/** A piece of a job's input, sent to one worker as one task. @internal */
export interface Chunk {
  readonly job: Job;
  /** Unique in the pool: how results name it. */
  readonly id: number;
  /** The chunk's position in the job. */
  readonly index: number;
  /** The index of its first item in the input. */
  readonly start: number;
  readonly items: unknown[];
}

/** How a job hands out its results. @internal */
export type JobMode = 'all' | 'ordered' | 'unordered';

/** @internal */
export interface JobOptions {
  /** The task function, or where the worker finds it (a `{ module, export }` target). */
  fn: Function | Locator;
  /** The name of the call, for errors (`map`, `apply`, ...). */
  call: string;
  /** Items are argument lists (apply, starmap). */
  star: boolean;
  mode: JobMode;
  /** Items per chunk; 'growing': 1, 2, 4, ... up to 256 (input of unknown length). */
  chunksize: number | 'growing';
  /** Streaming jobs: at most this many chunks taken and not yet consumed. */
  readAhead: number;
  /** Called when an async input has produced a chunk (the pool then hands it out). */
  wake: () => void;
}

let nextChunkId = 1;
const MAX_GROWING = 256;

/** One settled chunk waiting for a streaming consumer. */
type Outcome = { values: ArrayLike<unknown> & Iterable<unknown> } | { error: unknown };

/** @internal */
export class Job {
  readonly fn: Function | Locator;
  readonly call: string;
  readonly star: boolean;
  readonly #mode: JobMode;
  readonly #chunksize: number | 'growing';
  readonly #readAhead: number;
  readonly #wake: () => void;

  #sync: Iterator<unknown> | undefined;
  #async: AsyncIterator<unknown> | undefined;
  #array: readonly unknown[] | undefined;
  #exhausted = false;
  #pulling = false;
  /** A chunk an async input produced, not taken yet. */
  #ready: Chunk | undefined;
  /** Chunks given back: their worker died before it could receive them. */
  readonly #retry: Chunk[] = [];
  #nextIndex = 0;
  #nextItem = 0;
  /** Taken and not settled. */
  #outstanding = 0;
  #settled = false;
  #failure: unknown;

  // 'all': the results by input position.
  readonly #all: unknown[] = [];
  #resolveAll: ((values: unknown[]) => void) | undefined;
  #rejectAll: ((error: unknown) => void) | undefined;
  // Streaming: settled chunks not yet consumed (by chunk index when ordered, in order of arrival otherwise).
  readonly #byIndex = new Map<number, Outcome>();
  readonly #arrived: Outcome[] = [];
  #nextConsumed = 0;
  #unconsumed = 0;
  #consumer: (() => void) | undefined;

  constructor(input: Iterable<unknown> | AsyncIterable<unknown>, options: JobOptions) {
    this.fn = options.fn;
    this.call = options.call;
    this.star = options.star;
    this.#mode = options.mode;
    this.#chunksize = options.chunksize;
    this.#readAhead = options.readAhead;
    this.#wake = options.wake;
    if (Array.isArray(input)) {
      this.#array = input;
      this.#exhausted = input.length === 0;
      if (this.#mode === 'all') this.#all.length = input.length;
    } else if (typeof (input as Iterable<unknown>)[Symbol.iterator] === 'function') this.#sync = (input as Iterable<unknown>)[Symbol.iterator]();
    else this.#async = (input as AsyncIterable<unknown>)[Symbol.asyncIterator]();
  }

  /** For mode 'all': the results, in input order. */
  all(): Promise<unknown[]> {
    const promise = new Promise<unknown[]>((resolve, reject) => {
      this.#resolveAll = resolve;
      this.#rejectAll = reject;
    });
    this.#checkDone();
    return promise;
  }

  /** Whether the job will hand out no more chunks. */
  get drained(): boolean {
    return this.#settled || (this.#exhausted && this.#retry.length === 0 && this.#ready === undefined);
  }

  /** Whether nothing of it remains anywhere (it can be forgotten by the pool). */
  get finished(): boolean {
    return this.#settled || (this.drained && this.#outstanding === 0);
  }

  /** The next chunk to run, or undefined if none is available now. */
  take(): Chunk | undefined {
    if (this.#settled) return undefined;
    const retry = this.#retry.shift();
    if (retry) {
      this.#outstanding++;
      return retry;
    }
    if (this.#mode !== 'all' && this.#outstanding + this.#unconsumed >= this.#readAhead) return undefined;
    let chunk: Chunk | undefined;
    if (this.#async) {
      chunk = this.#ready;
      this.#ready = undefined;
      if (!this.#exhausted) void this.#pull();
    } else {
      chunk = this.#takeSync();
    }
    if (chunk) this.#outstanding++;
    return chunk;
  }

  /** Gives back a chunk its worker never received: it is handed out again first. */
  giveBack(chunk: Chunk): void {
    this.#outstanding--;
    if (!this.#settled) this.#retry.push(chunk);
  }

  #size(): number {
    return this.#chunksize === 'growing' ? Math.min(2 ** this.#nextIndex, MAX_GROWING) : this.#chunksize;
  }

  #chunk(items: unknown[]): Chunk {
    const chunk = { job: this, id: nextChunkId++, index: this.#nextIndex++, start: this.#nextItem, items };
    this.#nextItem += items.length;
    return chunk;
  }

  #takeSync(): Chunk | undefined {
    if (this.#exhausted) return undefined;
    const size = this.#size();
    let items: unknown[];
    if (this.#array) {
      items = this.#array.slice(this.#nextItem, this.#nextItem + size);
      if (this.#nextItem + items.length >= this.#array.length) this.#exhausted = true;
    } else {
      items = [];
      try {
        while (items.length < size) {
          const step = this.#sync!.next();
          if (step.done) {
            this.#exhausted = true;
            break;
          }
          items.push(step.value);
        }
      } catch (error) {
        this.#exhausted = true;
        this.fail(error);
        return undefined;
      }
    }
    if (items.length === 0) {
      this.#checkDone();
      return undefined;
    }
    return this.#chunk(items);
  }

  /** Reads the next chunk of an async input into #ready, then wakes the pool. */
  async #pull(): Promise<void> {
    if (this.#pulling || this.#ready || this.#exhausted) return;
    this.#pulling = true;
    const size = this.#size();
    const items: unknown[] = [];
    try {
      while (items.length < size) {
        const step = await this.#async!.next();
        if (step.done) {
          this.#exhausted = true;
          break;
        }
        items.push(step.value);
      }
    } catch (error) {
      this.#exhausted = true;
      this.#pulling = false;
      this.fail(error);
      return;
    }
    this.#pulling = false;
    if (this.#settled) return;
    if (items.length > 0) this.#ready = this.#chunk(items);
    else this.#checkDone();
    this.#wake();
  }

  /** Starts reading an async input before the first chunk is asked for. */
  prime(): void {
    if (this.#async) void this.#pull();
  }

  /** A worker's results for a chunk. */
  complete(chunk: Chunk, values: ArrayLike<unknown>): void {
    this.#outstanding--;
    if (this.#settled) return;
    if (this.#mode === 'all') {
      for (let i = 0; i < values.length; i++) this.#all[chunk.start + i] = values[i];
      this.#checkDone();
    } else {
      this.#deliver(chunk, { values: values as ArrayLike<unknown> & Iterable<unknown> });
    }
  }

  /** A chunk that failed: its task threw, or its worker died. */
  failChunk(chunk: Chunk, error: unknown): void {
    this.#outstanding--;
    if (this.#settled) return;
    if (this.#mode === 'all') this.fail(error);
    else this.#deliver(chunk, { error });
  }

  /** Ends the job with an error: nothing more is taken, results still due are ignored. */
  fail(error: unknown): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#failure = error;
    this.#retry.length = 0;
    this.#ready = undefined;
    // The input's own clean-up (a generator's finally blocks) runs now, as when a loop over it is left.
    if (!this.#exhausted) {
      try {
        if (this.#async) void this.#async.return?.()?.then(undefined, () => undefined);
        else this.#sync?.return?.();
      } catch {
        // An input whose clean-up throws: the call has already failed.
      }
    }
    this.#rejectAll?.(error);
    this.#consumer?.();
  }

  #deliver(chunk: Chunk, outcome: Outcome): void {
    this.#unconsumed++;
    if (this.#mode === 'ordered') this.#byIndex.set(chunk.index, outcome);
    else this.#arrived.push(outcome);
    this.#consumer?.();
  }

  #checkDone(): void {
    if (this.#mode !== 'all' || this.#settled || !this.#resolveAll || !this.drained || this.#outstanding > 0) return;
    this.#settled = true;
    this.#resolveAll(this.#all);
  }

  /** For streaming modes: the next chunk's outcome, undefined at the end. */
  async nextOutcome(): Promise<Outcome | undefined> {
    for (;;) {
      const outcome = this.#mode === 'ordered' ? this.#byIndex.get(this.#nextConsumed) : this.#arrived.shift();
      if (outcome) {
        this.#byIndex.delete(this.#nextConsumed++);
        this.#unconsumed--;
        this.#wake();
        return outcome;
      }
      if (this.#settled) throw this.#failure;
      if (this.drained && this.#outstanding === 0 && this.#unconsumed === 0) {
        this.#settled = true;
        return undefined;
      }
      await new Promise<void>((resolve) => (this.#consumer = resolve));
      this.#consumer = undefined;
    }
  }

  /** The consumer stopped early (a `break` out of `for await`): nothing more is wanted. */
  abandon(): void {
    this.fail(mpError('ERR_MP_CLOSED', 'the results are no longer wanted'));
  }
}

/** The results of a streaming job, one value at a time. @internal */
export async function* streamResults(job: Job): AsyncGenerator<unknown, void, undefined> {
  try {
    for (;;) {
      const outcome = await job.nextOutcome();
      if (!outcome) return;
      if ('error' in outcome) throw outcome.error;
      yield* outcome.values;
    }
  } finally {
    job.abandon();
  }
}
