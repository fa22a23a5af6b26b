/**
 * Client (Python's `multiprocessing.connection.Client`): connects to a Listener — this package's or a Python
 * program's — and authenticates (address.ts, authkey.ts).
 */
import { lookup } from 'node:dns/promises';

import { mpError, systemError } from '../internal/errors.js';
import { binding } from '../internal/native.js';
import { parseAsyncWait, type AsyncWaitOptions } from '../internal/wait.js';
import { deadlineOf, remainingMs } from '../internal/deadline.js';
import { authenticationSteps, parseEndpoint, type Address, type AuthOptions } from './address.js';
import { runHandshake } from './authkey.js';
import { Connection } from './connection.js';

const UV_WRITABLE = 2;
/** A Unix listener whose backlog is full refuses with EAGAIN instead of queueing: retry after this long. */
const RETRY_MS = 5;

/** Options of {@link Client}. */
export interface ClientOptions extends AuthOptions, AsyncWaitOptions {}

/**
 * Connects to `address` (a Unix socket path, or `{ host, port }` — a host name is looked up) and
 * authenticates: with `authkey` by Python's challenges both ways; without, the listener must run as this
 * process's user (AF_UNIX only: TCP requires an authkey). Rejects with `ERR_MP_AUTHENTICATION` on a key
 * mismatch; `timeout` applies to each wait.
 */
export async function Client(address: Address, options?: ClientOptions): Promise<Connection> {
  const endpoint = parseEndpoint(address, options, false);
  const { timeoutMs, signal } = parseAsyncWait(options);
  const deadline = deadlineOf(timeoutMs);
  const where = endpoint.address;
  let fd: number;
  if (typeof where === 'string') {
    fd = await connectUnix(where, signal, deadline);
  } else {
    const { address: ip } = await lookup(where.host);
    signal?.throwIfAborted();
    fd = binding.connect(ip, where.port);
    try {
      await writable(fd, signal, deadline);
      const err = binding.connectResult(fd);
      if (err !== 0) throw systemError(-err, 'connect');
    } catch (error) {
      binding.closeFd(fd);
      throw error;
    }
  }
  const connection = new Connection(fd);
  try {
    const steps = authenticationSteps(connection, endpoint, false);
    await runHandshake(connection, steps, { signal, timeout: timeoutMs < 0 ? undefined : remainingMs(deadline) });
  } catch (error) {
    connection.close();
    throw error;
  }
  return connection;
}

async function connectUnix(path: string, signal: AbortSignal | undefined, deadline: number): Promise<number> {
  for (;;) {
    signal?.throwIfAborted();
    try {
      return binding.connect(path, undefined);
    } catch (error) {
      if ((error as { code?: string }).code !== 'EAGAIN') throw error;
      if (remainingMs(deadline) === 0) throw mpError('ERR_MP_TIMEOUT', 'Client timed out');
      await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
    }
  }
}

/** Resolves once `fd` is writable (a connect finished, well or not). */
function writable(fd: number, signal: AbortSignal | undefined, deadline: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const left = remainingMs(deadline);
    const watcher = new binding.FdWatcher(fd, () => settle(undefined));
    const timer = left >= 0 ? setTimeout(() => settle(mpError('ERR_MP_TIMEOUT', 'Client timed out')), left) : undefined;
    const onAbort = (): void => settle(signal!.reason as Error);
    let settled = false;
    function settle(error: Error | undefined): void {
      if (settled) return;
      settled = true;
      watcher.close();
      if (timer !== undefined) clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (error) reject(error);
      else resolve();
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    watcher.start(UV_WRITABLE);
  });
}
