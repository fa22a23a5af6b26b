/**
 * Listener (Python's `multiprocessing.connection.Listener`): accepts connections on a Unix socket path or a
 * TCP port, authenticates them (address.ts, authkey.ts) and hands them out as Connections. A Python
 * program's `Client(address, authkey=...)` can connect to it.
 */
import { unlinkSync } from 'node:fs';

import { closedError, mpError } from '../internal/errors.js';
import { binding, type NativeFdWatcher } from '../internal/native.js';
import { validateInteger, validateOptions } from '../internal/validate.js';
import { parseAsyncWait, parseSyncWait, type AsyncWaitOptions, type SyncWaitOptions } from '../internal/wait.js';
import { deadlineOf, remainingMs } from '../internal/deadline.js';
import { authenticationSteps, numericHost, parseEndpoint, type Address, type AuthOptions, type Endpoint } from './address.js';
import { runHandshake, runHandshakeSync } from './authkey.js';
import { Connection } from './connection.js';

const POLLIN = 1;
const UV_READABLE = 1;

/** Options of `new Listener()`. */
export interface ListenerOptions extends AuthOptions {
  /** The listen(2) backlog (default 128; Python's is 1). */
  backlog?: number;
}

/** An accept waiting for a connection. */
interface Acceptor {
  take(fd: number): void;
  fail(error: Error): void;
}

/** Accepts authenticated connections. */
export class Listener {
  readonly #endpoint: Endpoint;
  readonly #fd: number;
  #closed = false;
  readonly #acceptors: Acceptor[] = [];
  #watcher: NativeFdWatcher | undefined;
  #watching = false;

  /**
   * Listens on `address`: a Unix socket path (which must not exist; `close()` removes it) or
   * `{ host, port }` (numeric host or 'localhost'; port 0 picks a free port, see `address`).
   */
  constructor(address: Address, options?: ListenerOptions) {
    const endpoint = parseEndpoint(address, options, true);
    const { backlog } = validateOptions<ListenerOptions>(options);
    const depth = backlog === undefined ? 128 : validateInteger(backlog, 'options.backlog', 1, 65535);
    const where = endpoint.address;
    if (typeof where === 'string') {
      this.#fd = binding.listen(where, undefined, depth);
      this.#endpoint = endpoint;
    } else {
      const host = numericHost(where.host);
      this.#fd = binding.listen(host, where.port, depth);
      this.#endpoint = { ...endpoint, address: { host: where.host, port: binding.localPort(this.#fd) } };
    }
  }

  /** The address clients connect to (with the actual port if port 0 was asked for). */
  get address(): Address {
    const where = this.#endpoint.address;
    return typeof where === 'string' ? where : { ...where };
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Waits for the next connection and authenticates it. Rejects with `ERR_MP_AUTHENTICATION` if the peer
   * fails authentication (as Python's accept raises), `ERR_MP_TIMEOUT` after `timeout` ms (applied to each
   * wait), or the signal's reason.
   */
  async accept(options?: AsyncWaitOptions): Promise<Connection> {
    this.#checkOpen();
    const { timeoutMs, signal } = parseAsyncWait(options);
    const deadline = deadlineOf(timeoutMs);
    const fd = await this.#nextFd(signal, timeoutMs);
    const connection = new Connection(fd);
    try {
      binding.noDelay(fd);
      const steps = authenticationSteps(connection, this.#endpoint, true);
      await runHandshake(connection, steps, { signal, timeout: timeoutMs < 0 ? undefined : remainingMs(deadline) });
    } catch (error) {
      connection.close();
      throw error;
    }
    return connection;
  }

  /** The blocking form of {@link accept}. */
  acceptSync(options?: SyncWaitOptions): Connection {
    this.#checkOpen();
    const timeoutMs = parseSyncWait(options);
    const deadline = deadlineOf(timeoutMs);
    let fd: number;
    for (;;) {
      fd = binding.accept(this.#fd);
      if (fd >= 0) break;
      const left = remainingMs(deadline);
      if (left === 0) throw mpError('ERR_MP_TIMEOUT', 'acceptSync timed out');
      binding.pollFd(this.#fd, POLLIN, left);
    }
    const connection = new Connection(fd);
    try {
      binding.noDelay(fd);
      const steps = authenticationSteps(connection, this.#endpoint, true);
      runHandshakeSync(connection, steps, { timeout: timeoutMs < 0 ? undefined : remainingMs(deadline) });
    } catch (error) {
      connection.close();
      throw error;
    }
    return connection;
  }

  /** Stops listening (pending accepts reject with `ERR_MP_CLOSED`) and removes a Unix socket's path. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const acceptor of this.#acceptors.splice(0)) acceptor.fail(closedError('Listener'));
    this.#watcher?.close();
    binding.closeFd(this.#fd);
    const where = this.#endpoint.address;
    if (typeof where === 'string') {
      try {
        unlinkSync(where);
      } catch {
        // Already removed by someone else: nothing to clean up.
      }
    }
  }

  /** Calls {@link close}. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** The next accepted descriptor, in order of the calls; waits on the event loop. */
  #nextFd(signal: AbortSignal | undefined, timeoutMs: number): Promise<number> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#acceptors.length === 0) {
      const fd = binding.accept(this.#fd);
      if (fd >= 0) return Promise.resolve(fd);
      if (timeoutMs === 0) return Promise.reject(mpError('ERR_MP_TIMEOUT', 'accept timed out'));
    }
    return new Promise<number>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const finish = (): void => {
        if (timer !== undefined) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      const acceptor: Acceptor = {
        take: (fd) => {
          finish();
          resolve(fd);
        },
        fail: (error) => {
          finish();
          reject(error);
        },
      };
      const remove = (error: Error): void => {
        const index = this.#acceptors.indexOf(acceptor);
        if (index >= 0) this.#acceptors.splice(index, 1);
        this.#updateWatch();
        acceptor.fail(error);
      };
      const onAbort = (): void => remove(signal!.reason);
      if (timeoutMs >= 0) timer = setTimeout(() => remove(mpError('ERR_MP_TIMEOUT', 'accept timed out')), timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#acceptors.push(acceptor);
      this.#updateWatch();
    });
  }

  #onReadable(): void {
    while (this.#acceptors.length > 0) {
      let fd: number;
      try {
        fd = binding.accept(this.#fd);
      } catch (error) {
        this.#acceptors.shift()!.fail(error as Error);
        continue;
      }
      if (fd < 0) break;
      this.#acceptors.shift()!.take(fd);
    }
    this.#updateWatch();
  }

  #updateWatch(): void {
    if (this.#closed) return;
    const wanted = this.#acceptors.length > 0;
    if (wanted === this.#watching) return;
    this.#watcher ??= new binding.FdWatcher(this.#fd, () => this.#onReadable());
    this.#watcher.start(wanted ? UV_READABLE : 0);
    this.#watching = wanted;
  }

  #checkOpen(): void {
    if (this.#closed) throw closedError('Listener');
  }
}
