/**
 * Errors shaped like Node's own: every error the library throws carries a string `code`.
 */
import { constants } from 'node:os';
import { getSystemErrorMap, inspect } from 'node:util';

/** An Error with a Node-style `code`. */
export interface CodedError extends Error {
  code: string;
}

function withCode<E extends Error>(error: E, code: string): E & CodedError {
  Object.defineProperty(error, 'code', { value: code, enumerable: true, writable: true, configurable: true });
  return error as E & CodedError;
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return ` Received ${value}`;
  if (typeof value === 'function') return ` Received function ${value.name || '<anonymous>'}`;
  if (typeof value === 'object') return ` Received an instance of ${value.constructor?.name ?? 'Object'}`;
  return ` Received type ${typeof value} (${inspect(value).slice(0, 25)})`;
}

/** `TypeError` with `code: 'ERR_INVALID_ARG_TYPE'`, worded like Node's. */
export function invalidArgType(name: string, expected: string, actual: unknown): TypeError & CodedError {
  return withCode(new TypeError(`The "${name}" argument must be ${expected}.${describe(actual)}`), 'ERR_INVALID_ARG_TYPE');
}

/** `RangeError` with `code: 'ERR_OUT_OF_RANGE'`. */
export function outOfRange(name: string, range: string, actual: unknown): RangeError & CodedError {
  return withCode(
    new RangeError(`The value of "${name}" is out of range. It must be ${range}. Received ${inspect(actual)}`),
    'ERR_OUT_OF_RANGE',
  );
}

/** `TypeError` with `code: 'ERR_INVALID_ARG_VALUE'`. */
export function invalidArgValue(name: string, actual: unknown, reason: string): TypeError & CodedError {
  return withCode(
    new TypeError(`The argument '${name}' ${reason}. Received ${inspect(actual)}`),
    'ERR_INVALID_ARG_VALUE',
  );
}

/** Error with `code: 'ERR_MP_CLOSED'`: a method was used after `close()`. */
export function closedError(what: string): Error & CodedError {
  return withCode(new Error(`${what} is closed`), 'ERR_MP_CLOSED');
}

/** An Error with an arbitrary library code (`ERR_MP_*`). */
export function mpError(code: string, message: string): Error & CodedError {
  return withCode(new Error(message), code);
}

/** A system error from a negative errno, as the addon reports failures of async waits. */
export function systemError(errno: number, syscall: string): Error & CodedError {
  // Node's map comes from libuv, which lacks a few errnos (ECHILD, ENOEXEC): name those from os.constants.
  const [code, message] = getSystemErrorMap().get(errno) ?? [
    Object.entries(constants.errno).find(([, value]) => value === -errno)?.[0] ?? 'UNKNOWN',
    'system error',
  ];
  const error = withCode(new Error(`${code}: ${message}, ${syscall}`), code);
  Object.assign(error, { errno, syscall });
  return error;
}
