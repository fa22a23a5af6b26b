/**
 * Errors shaped like Node's own: every error the library throws carries a string `code`. The library's own
 * codes are the ERROR_CODES below, each documented in docs/api.md's Errors table (test/errors.test.ts keeps the
 * two in step); failed system calls carry their errno name instead (`ENOENT`, ...: see `systemError`).
 */
import { constants } from 'node:os';
import { getSystemErrorMap, inspect } from 'node:util';

/**
 * Every code the library gives its own errors: Node's codes for the same situations (bad arguments,
 * unknown signals, modules not found), then posix-mp's `ERR_MP_*`. A new code goes here and into docs/api.md.
 */
export const ERROR_CODES = [
  'ERR_INVALID_ARG_TYPE',
  'ERR_INVALID_ARG_VALUE',
  'ERR_OUT_OF_RANGE',
  'ERR_UNKNOWN_SIGNAL',
  'ERR_MODULE_NOT_FOUND',
  'ERR_MP_CLOSED',
  'ERR_MP_RELEASE_UNLOCKED',
  'ERR_MP_NOT_OWNER',
  'ERR_MP_RELEASE_TOO_MANY',
  'ERR_MP_TOO_MANY_WAITERS',
  'ERR_MP_EMPTY',
  'ERR_MP_FULL',
  'ERR_MP_TASK_DONE_TOO_MANY',
  'ERR_MP_BROKEN_BARRIER',
  'ERR_MP_NO_LOCK',
  'ERR_MP_ANONYMOUS_LOCK',
  'ERR_MP_ZERO_SIZE',
  'ERR_MP_MISMATCH',
  'ERR_MP_WRONG_KIND',
  'ERR_MP_NOT_READY',
  'ERR_MP_TRANSFER',
  'ERR_MP_NOT_CLONEABLE',
  'ERR_MP_TARGET_NOT_FOUND',
  'ERR_MP_PRIVATE_FIELDS',
  'ERR_MP_BOOTSTRAPPING',
  'ERR_MP_STARTED',
  'ERR_MP_NOT_STARTED',
  'ERR_MP_NOT_OURS',
  'ERR_MP_RUNNING',
  'ERR_MP_DAEMON',
  'ERR_MP_PROTOCOL',
  'ERR_MP_EOF',
  'ERR_MP_TIMEOUT',
  'ERR_MP_NOT_READABLE',
  'ERR_MP_NOT_WRITABLE',
  'ERR_MP_MESSAGE_TOO_LONG',
  'ERR_MP_AUTHENTICATION',
  'ERR_MP_NOT_FOUND',
  'ERR_MP_CONTAINER_FULL',
  'ERR_MP_WORKER_DIED',
  'ERR_MP_POOL_NOT_RUNNING',
] as const;

/**
 * A code of the library's own errors, as in `err.code` (each is described in docs/api.md, "Errors"). Failed
 * system calls carry their errno name instead (`'ENOENT'`, `'EEXIST'`, ...).
 */
export type ErrorCode = (typeof ERROR_CODES)[number];

/** An Error with a Node-style `code`: an ErrorCode, or an errno name for a system error. */
export interface CodedError extends Error {
  code: string;
}

function withCode<E extends Error>(error: E, code: ErrorCode): E & CodedError {
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

/** `TypeError` with `code: 'ERR_UNKNOWN_SIGNAL'`, worded like Node's. */
export function unknownSignal(signal: string): TypeError & CodedError {
  return withCode(new TypeError(`Unknown signal: ${signal}`), 'ERR_UNKNOWN_SIGNAL');
}

/** Error with `code: 'ERR_MP_CLOSED'`: a method was used after `close()`. */
export function closedError(what: string): Error & CodedError {
  return withCode(new Error(`${what} is closed`), 'ERR_MP_CLOSED');
}

/** An Error with one of the library's codes (`ERR_MP_*`, or Node's where Node has one for the case). */
export function mpError(code: ErrorCode, message: string): Error & CodedError {
  return withCode(new Error(message), code);
}

/** A system error from a negative errno, as the addon reports failures of async waits. */
export function systemError(errno: number, syscall: string): Error & CodedError {
  // Node's map comes from libuv, which lacks a few errnos (ECHILD, ENOEXEC): name those from os.constants.
  const [code, message] = getSystemErrorMap().get(errno) ?? [
    Object.entries(constants.errno).find(([, value]) => value === -errno)?.[0] ?? 'UNKNOWN',
    'system error',
  ];
  return Object.assign(new Error(`${code}: ${message}, ${syscall}`), { code, errno, syscall });
}
