/**
 * Addresses and the authentication policy shared by Listener and Client (Python's
 * `multiprocessing.connection`): an AF_UNIX socket path, or a TCP `{ host, port }`.
 *
 * Default-deny: without an authkey only a process of the same user may connect over AF_UNIX (checked with
 * SO_PEERCRED, both ways); a TCP address requires an authkey, since anyone who can reach the port could
 * connect.
 */
import { isIP } from 'node:net';

import { invalidArgType, invalidArgValue } from '../internal/errors.js';
import { binding } from '../internal/native.js';
import { validateInteger, validateOptions } from '../internal/validate.js';
import { AuthenticationError, answerChallenge, deliverChallenge, type Handshake } from './authkey.js';
import type { Connection } from './connection.js';

/** A TCP address. */
export interface TcpAddress {
  host: string;
  port: number;
}

/** Where a Listener listens and a Client connects: a Unix socket path, or a TCP host and port. */
export type Address = string | TcpAddress;

/** Options of Listener and Client. */
export interface AuthOptions {
  /**
   * The shared secret (Python's `authkey`, bytes). Required for TCP; without it, AF_UNIX connections are
   * limited to processes of the same user.
   */
  authkey?: ArrayBufferView;
}

/** A validated address and key. */
export interface Endpoint {
  address: Address;
  authkey: Buffer | undefined;
}

/** Validates an address and its options; `what` names the caller in errors. */
export function parseEndpoint(address: unknown, options: unknown, allowPortZero: boolean): Endpoint {
  const { authkey } = validateOptions<AuthOptions>(options);
  let key: Buffer | undefined;
  if (authkey !== undefined) {
    if (!ArrayBuffer.isView(authkey)) throw invalidArgType('options.authkey', 'a Buffer or Uint8Array (bytes, as in Python)', authkey);
    key = Buffer.from(authkey.buffer, authkey.byteOffset, authkey.byteLength);
  }
  if (typeof address === 'string') {
    if (address.length === 0 || address.includes('\0')) throw invalidArgValue('address', address, 'must be a socket path');
    return { address, authkey: key };
  }
  if (typeof address !== 'object' || address === null) {
    throw invalidArgType('address', 'a socket path or an object { host, port }', address);
  }
  const { host, port } = address as Partial<TcpAddress>;
  if (typeof host !== 'string' || host.length === 0) throw invalidArgType('address.host', 'a non-empty string', host);
  validateInteger(port, 'address.port', allowPortZero ? 0 : 1, 65535);
  if (key === undefined) {
    throw invalidArgValue(
      'options.authkey',
      authkey,
      'is required for a TCP address (anyone who can reach the port could connect otherwise)',
    );
  }
  return { address: { host, port: port! }, authkey: key };
}

/** A host for bind(): numeric, or 'localhost' (a Listener is created synchronously: no name lookup). */
export function numericHost(host: string): string {
  if (isIP(host) !== 0) return host;
  if (host === 'localhost') return '127.0.0.1';
  throw invalidArgValue('address.host', host, 'must be a numeric address or "localhost" for a Listener');
}

/**
 * The steps that authenticate a new connection: with a key, Python's challenges (the accepting side
 * challenges first); without, the peer's user is checked at once (it must be this process's).
 */
export function authenticationSteps(connection: Connection, endpoint: Endpoint, accepting: boolean): Handshake[] {
  const key = endpoint.authkey;
  if (key === undefined) {
    const { uid } = binding.peerCredentials(connection.fileno());
    if (uid !== process.getuid!()) {
      throw new AuthenticationError(`the peer runs as another user (uid ${uid}): an authkey is required to accept it`);
    }
    return [];
  }
  return accepting
    ? [deliverChallenge(connection, key), answerChallenge(connection, key)]
    : [answerChallenge(connection, key), deliverChallenge(connection, key)];
}
