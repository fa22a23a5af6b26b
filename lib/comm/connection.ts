/**
 * Connection (Python's `multiprocessing.connection.Connection`): one end of a byte stream — a Unix socket
 * pair or a pipe from `Pipe()`, or a socket from `Listener`/`Client` — carrying messages framed as Python
 * frames them (framing.ts), so a Python peer's `send_bytes`/`recv_bytes` interoperate with
 * `sendBytes`/`recvBytes`.
 *
 * The descriptor is non-blocking. Reads take whatever is there into a buffer and hand out only whole
 * messages: a recv that is cancelled or times out consumes nothing. Async forms wait for readiness on the
 * event loop (a uv_poll, native/comm/fd_watch.cc), Sync forms in poll(2); neither uses a thread.
 *
 * Sending never blocks: what the stream cannot take now waits in this process and is written from the event
 * loop (which it keeps alive until then), or while this process waits in a Sync call on the Connection.
 * Objects larger than 64 KiB travel in a memory file on sockets (connection_message.ts), so sending one
 * never waits for the reader at all.
 */
import { fstatSync } from 'node:fs';

import { closedError, invalidArgType, mpError, outOfRange } from '../internal/errors.js';
import { binding, type NativeFdWatcher } from '../internal/native.js';
import { parseAsyncWait, parseSyncWait, type AsyncWaitOptions, type SyncWaitOptions } from '../internal/wait.js';
import { validateBoolean, validateInteger, validateOptions } from '../internal/validate.js';
import { deadlineOf, remainingMs } from '../internal/deadline.js';
import { decodeMessage, decodeMessageSync, encodeMessage } from './connection_message.js';
import { decodeFrameHeader, encodeFrameHeader } from './framing.js';
import { registerTransfer } from './reduction.js';

const POLLIN = 1;
const POLLOUT = 4;
const UV_READABLE = 1;
const UV_WRITABLE = 2;
/**
 * The receive buffer, allocated at the first read; a message longer than half of it is read straight into
 * a buffer of its own.
 */
const RECEIVE_BUFFER = 64 * 1024;
const NO_BUFFER = Buffer.alloc(0);
/** Frames up to this size are written header and body together (as Python does up to 16 KiB). */
const JOIN_LIMIT = 64 * 1024;
/** One write(2) at most (the addon takes 32-bit lengths). */
const MAX_WRITE = 1 << 30;

/** A whole message taken from the stream, with the descriptors that came with it. */
interface Frame {
  body: Buffer;
  fds: number[];
}

/** Bytes waiting to be written. */
interface Pending {
  bytes: Uint8Array;
  offset: number;
  /** Descriptors to attach to the first byte written; undefined once they went. */
  fds: number[] | undefined;
  /** Descriptors this Connection must close once `fds` went (duplicates, a message's memory file). */
  owned: number[];
  /** `bytes` is the caller's memory. */
  borrowed: boolean;
  /** Depends on nothing the caller may change or close (see #sendFrame). */
  independent: boolean;
}

/** An async recv or poll waiting for input. */
interface Reader {
  /** Tries to finish; true if it did (it is then removed). */
  serve(): boolean;
  fail(error: Error): void;
}

/** Options of `recvBytes`/`recvBytesSync`. */
export interface RecvBytesOptions {
  /** Longer messages are refused (`ERR_MP_MESSAGE_TOO_LONG`) and left unread, as Python's `maxlength`. */
  maxLength?: number;
}

/** Options of `new Connection(fd)`. */
export interface ConnectionOptions {
  /** Whether this end receives (default true). */
  readable?: boolean;
  /** Whether this end sends (default true). */
  writable?: boolean;
}

function timeoutError(what: string): Error {
  return mpError('ERR_MP_TIMEOUT', `${what} timed out`);
}

function eofError(): Error {
  return mpError('ERR_MP_EOF', 'the other end of the Connection was closed');
}

/** Validates the (buffer, offset, size) of sendBytes. */
function byteRange(buf: unknown, offset: unknown, size: unknown): Uint8Array {
  if (!ArrayBuffer.isView(buf)) throw invalidArgType('buf', 'an ArrayBufferView (Buffer, TypedArray or DataView)', buf);
  const bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  const start = offset === undefined ? 0 : validateInteger(offset, 'offset', 0, bytes.length);
  const length = size === undefined ? bytes.length - start : validateInteger(size, 'size', 0, bytes.length - start);
  return bytes.subarray(start, start + length);
}

/**
 * One end of a Pipe, or a connection from a Listener or Client. Objects go with `send`/`recv` (V8
 * serialization; shared objects and Connections inside arrive as working handles), raw messages with
 * `sendBytes`/`recvBytes` (Python's framing).
 */
export class Connection {
  readonly #fd: number;
  readonly #socket: boolean;
  /** An AF_UNIX socket: descriptors (and so anonymous shared objects and Connections) can travel. */
  readonly #passesFds: boolean;
  readonly #readable: boolean;
  readonly #writable: boolean;
  #closed = false;
  #fdClosed = false;

  // Receiving: bytes read but not yet handed out are #buffer[#start..#end); a long message being read goes
  // straight into #long. #position counts the bytes read from the stream so far; #received lists the
  // descriptors that arrived, each with the stream position just after the read that brought it — which lies
  // inside the message it was sent with (its sender attached it to that message's first byte, and a read
  // ends at most at the end of the bytes it was attached to).
  #buffer = NO_BUFFER;
  #start = 0;
  #end = 0;
  #long: { body: Buffer; filled: number } | undefined;
  #position = 0;
  #received: { at: number; fds: number[] }[] = [];
  #eof = false;
  readonly #readers: Reader[] = [];

  // Sending.
  readonly #pending: Pending[] = [];
  #writeError: Error | undefined;

  #watcher: NativeFdWatcher | undefined;
  #watching = 0;

  /**
   * Adopts an open descriptor — a stream socket or a pipe end — as Python's `Connection(handle)` does; this
   * Connection closes it. Usually made by `Pipe()`, `Listener` or `Client`.
   */
  constructor(fd: number, options?: ConnectionOptions) {
    validateInteger(fd, 'fd', 0, 0x7fffffff);
    const o = validateOptions<ConnectionOptions>(options);
    this.#readable = validateBoolean(o.readable, 'options.readable', true);
    this.#writable = validateBoolean(o.writable, 'options.writable', true);
    if (!this.#readable && !this.#writable) {
      throw mpError('ERR_INVALID_ARG_VALUE', 'a Connection must be readable or writable');
    }
    const stat = fstatSync(fd);
    this.#socket = stat.isSocket();
    this.#passesFds = this.#socket && binding.isUnixSocket(fd);
    if (!this.#socket && !stat.isFIFO()) throw mpError('ERR_INVALID_ARG_VALUE', `descriptor ${fd} is not a socket or pipe`);
    binding.setNonBlocking(fd);
    this.#fd = fd;
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Whether this end receives (false for the writer of `Pipe(false)`). */
  get readable(): boolean {
    return this.#readable;
  }

  /** Whether this end sends (false for the reader of `Pipe(false)`). */
  get writable(): boolean {
    return this.#writable;
  }

  /** The descriptor. */
  fileno(): number {
    this.#checkOpen();
    return this.#fd;
  }

  /**
   * Sends a value: anything `v8.serialize` accepts, with shared objects (Lock, Value, Queue, Connection, …)
   * at any depth arriving as working handles. Never blocks (see the module comment).
   */
  send(obj: unknown): void {
    this.#checkWritable();
    const { payload, fds, owned } = encodeMessage(obj, this.#passesFds);
    this.#sendFrame(payload, fds, owned, false);
  }

  /** Sends `buf[offset..offset+size)` as one message, framed as Python's `send_bytes`. Never blocks. */
  sendBytes(buf: ArrayBufferView, offset?: number, size?: number): void {
    this.#checkWritable();
    this.#sendFrame(byteRange(buf, offset, size), [], [], true);
  }

  /**
   * Receives the next value sent with `send`. Rejects with `ERR_MP_EOF` once the other end is closed and
   * every message has been read, `ERR_MP_TIMEOUT` after `timeout` ms; an abort rejects with the signal's
   * reason. Nothing is consumed unless the promise resolves.
   */
  recv(options?: AsyncWaitOptions): Promise<unknown> {
    return this.#recvFrame(options, undefined).then((frame) => decodeMessage(frame.body, frame.fds));
  }

  /** The blocking form of {@link recv}. */
  recvSync(options?: SyncWaitOptions): unknown {
    const frame = this.#recvFrameSync(options, undefined);
    return decodeMessageSync(frame.body, frame.fds);
  }

  /** Receives the next message as bytes (Python's `recv_bytes`). Errors as {@link recv}. */
  recvBytes(options?: AsyncWaitOptions & RecvBytesOptions): Promise<Buffer> {
    return this.#recvFrame(options, parseMaxLength(options)).then((frame) => this.#bytesOf(frame));
  }

  /** The blocking form of {@link recvBytes}. */
  recvBytesSync(options?: SyncWaitOptions & RecvBytesOptions): Buffer {
    return this.#bytesOf(this.#recvFrameSync(options, parseMaxLength(options)));
  }

  /**
   * Whether there is something to read — data, or the end of the stream — waiting up to `timeout` ms.
   * As in Python, the default is 0 (do not wait); `Infinity` (or null) waits forever.
   */
  poll(timeout: number | null = 0): boolean {
    this.#checkReadable();
    const ms = timeout === null ? -1 : parseSyncWait({ timeout });
    const deadline = deadlineOf(ms);
    for (;;) {
      if (this.#inputReady()) return true;
      const left = remainingMs(deadline);
      if (left === 0) return false;
      this.#waitSync(left);
    }
  }

  /** The async form of {@link poll}: resolves `true` once there is something to read, `false` on timeout. */
  pollAsync(options?: AsyncWaitOptions): Promise<boolean> {
    try {
      this.#checkReadable();
      const { timeoutMs, signal } = parseAsyncWait(options);
      if (signal?.aborted) return Promise.reject(signal.reason);
      if (this.#readers.length === 0 && this.#inputReady()) return Promise.resolve(true);
      if (timeoutMs === 0) return Promise.resolve(false);
      return this.#wait<boolean>(
        signal,
        timeoutMs,
        (resolve) => (this.#inputReady() ? (resolve(true), true) : false),
        (resolve) => resolve(false),
      );
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Closes this end. Pending recvs reject with `ERR_MP_CLOSED`. Messages already sent but not yet written
   * are still written (the descriptor is closed afterwards); the other end then reads them, then EOF.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const readers = this.#readers.splice(0);
    for (const reader of readers) reader.fail(closedError('Connection'));
    this.#dropReceived();
    this.#buffer = NO_BUFFER;
    this.#long = undefined;
    if (this.#pending.length === 0) this.#closeFd();
    else this.#updateWatch();
  }

  /** Calls {@link close}. */
  [Symbol.dispose](): void {
    this.close();
  }

  // --- receiving -----------------------------------------------------------------------------------------

  #bytesOf(frame: Frame): Buffer {
    // Descriptors sent with an object message that is read as bytes have no use here.
    for (const fd of frame.fds) binding.closeFd(fd);
    return frame.body;
  }

  #recvFrame(options: AsyncWaitOptions | undefined, maxLength: number | undefined): Promise<Frame> {
    try {
      this.#checkReadable();
      const { timeoutMs, signal } = parseAsyncWait(options);
      if (signal?.aborted) return Promise.reject(signal.reason);
      if (this.#readers.length === 0) {
        const frame = this.#takeFrame(maxLength);
        if (frame) return Promise.resolve(frame);
        if (timeoutMs === 0) return Promise.reject(timeoutError('recv'));
      }
      return this.#wait<Frame>(
        signal,
        timeoutMs,
        (resolve) => {
          const frame = this.#takeFrame(maxLength);
          if (frame) resolve(frame);
          return frame !== undefined;
        },
        (_, reject) => reject(timeoutError('recv')),
      );
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #recvFrameSync(options: SyncWaitOptions | undefined, maxLength: number | undefined): Frame {
    this.#checkReadable();
    const deadline = deadlineOf(parseSyncWait(options));
    for (;;) {
      const frame = this.#takeFrame(maxLength);
      if (frame) {
        // Messages this read brought beyond the one taken wait in the buffer, where no readiness event
        // will announce them to queued async readers.
        if (this.#readers.length > 0) setImmediate(() => this.#serveReaders());
        return frame;
      }
      const left = remainingMs(deadline);
      if (left === 0) throw timeoutError('recvSync');
      this.#waitSync(left);
    }
  }

  /** Sleeps in poll(2) until input comes (or the timeout), writing pending output meanwhile. */
  #waitSync(timeoutMs: number): void {
    this.#flush();
    binding.pollFd(this.#fd, POLLIN | (this.#pending.length > 0 ? POLLOUT : 0), timeoutMs);
    this.#flush();
  }

  /**
   * Queues an async reader. `serve(resolve, reject)` tries to finish it without blocking; `onTimeout` ends it
   * when `timeoutMs` (>= 0) passes.
   */
  #wait<T>(
    signal: AbortSignal | undefined,
    timeoutMs: number,
    serve: (resolve: (value: T) => void, reject: (error: Error) => void) => boolean,
    onTimeout: (resolve: (value: T) => void, reject: (error: Error) => void) => void,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const finish = (): void => {
        if (timer !== undefined) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      const remove = (): void => {
        const index = this.#readers.indexOf(reader);
        if (index >= 0) this.#readers.splice(index, 1);
        finish();
        this.#updateWatch();
      };
      const done = (value: T): void => {
        finish();
        resolve(value);
      };
      const failed = (error: Error): void => {
        finish();
        reject(error);
      };
      const reader: Reader = {
        serve: () => serve(done, failed),
        fail: failed,
      };
      const onAbort = (): void => {
        remove();
        reject(signal!.reason);
      };
      if (timeoutMs >= 0) {
        timer = setTimeout(() => {
          remove();
          onTimeout(resolve, reject);
        }, timeoutMs);
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#readers.push(reader);
      this.#updateWatch();
    });
  }

  /** Serves the queued readers in order, as far as the input allows. */
  #serveReaders(): void {
    while (this.#readers.length > 0) {
      const reader = this.#readers[0]!;
      let served: boolean;
      try {
        served = reader.serve();
      } catch (error) {
        this.#readers.shift();
        reader.fail(error as Error);
        continue;
      }
      if (!served) break;
      this.#readers.shift();
    }
  }

  /** Whether a recv would find data or the end of the stream (it may still have to wait for the rest). */
  #inputReady(): boolean {
    if (this.#end > this.#start || this.#long || this.#eof) return true;
    return binding.pollFd(this.#fd, POLLIN, 0) !== 0;
  }

  /**
   * Takes the next whole message, reading what the stream has now; undefined if it is not all there yet.
   * Throws ERR_MP_EOF at the end of the stream.
   */
  #takeFrame(maxLength: number | undefined): Frame | undefined {
    for (;;) {
      const long = this.#long;
      if (long) {
        if (long.filled < long.body.length) {
          const n = this.#read(long.body, long.filled, long.body.length - long.filled);
          if (n < 0) return undefined;
          long.filled += n;
          continue;
        }
        this.#long = undefined;
        return { body: long.body, fds: this.#fdsUpTo(this.#position) };
      }
      const header = decodeFrameHeader(this.#buffer.subarray(this.#start, this.#end));
      if (header) {
        if (maxLength !== undefined && header.length > maxLength) {
          throw mpError('ERR_MP_MESSAGE_TOO_LONG', `the next message is ${header.length} bytes, more than maxLength (${maxLength})`);
        }
        const bodyStart = this.#start + header.headerSize;
        const available = this.#end - bodyStart;
        if (available >= header.length) {
          const body = Buffer.from(this.#buffer.subarray(bodyStart, bodyStart + header.length));
          this.#start = bodyStart + header.length;
          return { body, fds: this.#fdsUpTo(this.#position - (this.#end - this.#start)) };
        }
        if (header.length > RECEIVE_BUFFER / 2) {
          const body = Buffer.allocUnsafe(header.length);
          this.#buffer.copy(body, 0, bodyStart, this.#end);
          this.#long = { body, filled: available };
          this.#start = this.#end = 0;
          continue;
        }
      }
      if (this.#buffer === NO_BUFFER) this.#buffer = Buffer.allocUnsafe(RECEIVE_BUFFER);
      if (this.#start > 0) {
        this.#buffer.copy(this.#buffer, 0, this.#start, this.#end);
        this.#end -= this.#start;
        this.#start = 0;
      }
      const n = this.#read(this.#buffer, this.#end, this.#buffer.length - this.#end);
      if (n < 0) return undefined;
      this.#end += n;
    }
  }

  /** Reads into `target`; -1 if nothing is there now. Throws ERR_MP_EOF at the end of the stream. */
  #read(target: Buffer, offset: number, length: number): number {
    if (this.#eof) throw eofError();
    const fds: number[] = [];
    const n = binding.readStream(this.#fd, target, offset, Math.min(length, MAX_WRITE), this.#socket, fds);
    if (n > 0) this.#position += n;
    if (fds.length > 0) this.#received.push({ at: this.#position, fds });
    if (n === 0) {
      this.#eof = true;
      throw eofError();
    }
    return n;
  }

  /** The descriptors that came with the message ending at stream position `end`. */
  #fdsUpTo(end: number): number[] {
    if (this.#received.length === 0) return [];
    const fds: number[] = [];
    while (this.#received.length > 0 && this.#received[0]!.at <= end) fds.push(...this.#received.shift()!.fds);
    return fds;
  }

  #dropReceived(): void {
    for (const { fds } of this.#received.splice(0)) for (const fd of fds) binding.closeFd(fd);
  }

  // --- sending -------------------------------------------------------------------------------------------

  #sendFrame(payload: Uint8Array, fds: number[], owned: number[], borrowed: boolean): void {
    if (this.#writeError) {
      for (const fd of owned) binding.closeFd(fd);
      throw this.#writeError;
    }
    const header = encodeFrameHeader(payload.length);
    const independent = fds.length === 0;
    if (payload.length <= JOIN_LIMIT) {
      const joined = Buffer.allocUnsafe(header.length + payload.length);
      header.copy(joined, 0);
      joined.set(payload, header.length);
      this.#pending.push({ bytes: joined, offset: 0, fds, owned, borrowed: false, independent });
    } else {
      this.#pending.push({ bytes: header, offset: 0, fds, owned, borrowed: false, independent });
      this.#pending.push({ bytes: payload, offset: 0, fds: undefined, owned: [], borrowed, independent: !borrowed });
    }
    this.#flush();
    if (this.#writeError) throw this.#writeError;
    // What has to wait must not depend on the caller, who may change its buffer or close the shared objects
    // (and so the descriptors) it sent once this returns.
    for (const entry of this.#pending) {
      if (entry.independent) continue;
      if (entry.borrowed) {
        entry.bytes = entry.bytes.slice(entry.offset);
        entry.offset = 0;
        entry.borrowed = false;
      }
      if (entry.fds) {
        entry.fds = entry.fds.map((fd) => (entry.owned.includes(fd) ? fd : binding.dupFd(fd)));
        entry.owned = entry.fds;
      }
      entry.independent = true;
    }
    this.#updateWatch();
  }

  /** Writes what the stream takes now. A write error drops all pending output and is kept for the next send. */
  #flush(): void {
    while (this.#pending.length > 0) {
      const entry = this.#pending[0]!;
      let n: number;
      try {
        const length = Math.min(entry.bytes.length - entry.offset, MAX_WRITE);
        n = binding.writeStream(this.#fd, entry.bytes, entry.offset, length, this.#socket, entry.fds);
      } catch (error) {
        this.#writeError = error as Error;
        for (const dropped of this.#pending.splice(0)) for (const fd of dropped.owned) binding.closeFd(fd);
        break;
      }
      if (n < 0) return;
      if (entry.fds) {
        entry.fds = undefined;
        for (const fd of entry.owned) binding.closeFd(fd);
        entry.owned = [];
      }
      entry.offset += n;
      if (entry.offset === entry.bytes.length) this.#pending.shift();
    }
    if (this.#closed) this.#closeFd();
  }

  // --- the descriptor ------------------------------------------------------------------------------------

  /** Watches for what is wanted now: input for queued readers, room for pending output. */
  #updateWatch(): void {
    if (this.#fdClosed) return;
    const wanted = (this.#readers.length > 0 ? UV_READABLE : 0) | (this.#pending.length > 0 ? UV_WRITABLE : 0);
    if (wanted === this.#watching) return;
    this.#watcher ??= new binding.FdWatcher(this.#fd, (status, events) => this.#onEvent(status, events));
    this.#watcher.start(wanted);
    this.#watching = wanted;
  }

  #onEvent(status: number, events: number): void {
    // An error status (the peer vanished) is handled like readiness: the read or write reports it.
    if (status < 0 || events & UV_WRITABLE) this.#flush();
    if (status < 0 || events & UV_READABLE) this.#serveReaders();
    this.#updateWatch();
  }

  #closeFd(): void {
    if (this.#fdClosed) return;
    this.#fdClosed = true;
    this.#watcher?.close();
    this.#watcher = undefined;
    binding.closeFd(this.#fd);
  }

  #checkOpen(): void {
    if (this.#closed) throw closedError('Connection');
  }

  #checkReadable(): void {
    this.#checkOpen();
    if (!this.#readable) throw mpError('ERR_MP_NOT_READABLE', 'this Connection is write-only (the writer of Pipe(false))');
  }

  #checkWritable(): void {
    this.#checkOpen();
    if (!this.#writable) throw mpError('ERR_MP_NOT_WRITABLE', 'this Connection is read-only (the reader of Pipe(false))');
  }

  static {
    registerTransfer<Connection>({
      kind: 'Connection',
      type: Connection,
      describe: (connection) => {
        connection.#checkOpen();
        if (connection.#end > connection.#start || connection.#long) {
          throw mpError('ERR_MP_TRANSFER', 'a Connection with received data not yet read cannot be passed on');
        }
        return {
          name: 'Connection',
          descriptor: connection.#fd,
          params: { readable: connection.#readable, writable: connection.#writable },
        };
      },
      revive: (d) => new Connection(d.descriptor!, d.params as ConnectionOptions),
    });
  }
}

function parseMaxLength(options: unknown): number | undefined {
  const { maxLength } = validateOptions<RecvBytesOptions>(options);
  if (maxLength === undefined) return undefined;
  if (typeof maxLength !== 'number' || Number.isNaN(maxLength) || maxLength < 0) {
    throw outOfRange('options.maxLength', 'a non-negative number', maxLength);
  }
  return maxLength;
}
