/**
 * Argument checks shared by every class: they run before any syscall and throw Node-style typed errors.
 */
import { invalidArgType, outOfRange } from './errors.js';

/** Checks that `value` is an integer in [min, max]. */
export function validateInteger(value: unknown, name: string, min: number, max: number): number {
  if (typeof value !== 'number') throw invalidArgType(name, 'of type number', value);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw outOfRange(name, `an integer >= ${min} and <= ${max}`, value);
  }
  return value;
}

/** Checks an optional boolean option. */
export function validateBoolean(value: unknown, name: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw invalidArgType(name, 'of type boolean', value);
  return value;
}

const NO_OPTIONS: Readonly<Record<string, never>> = Object.freeze({});

/** Checks an options argument: undefined or a plain object. */
export function validateOptions<T extends object>(value: unknown, name = 'options'): Partial<T> {
  // Shared and frozen: hot paths (lock.acquireSync()) call this on every operation without options.
  if (value === undefined || value === null) return NO_OPTIONS as Partial<T>;
  if (typeof value !== 'object' || Array.isArray(value)) throw invalidArgType(name, 'of type object', value);
  return value as Partial<T>;
}

/** Creation permissions: an integer 0..0o777, default 0o600. */
export function validateMode(value: unknown): number {
  return value === undefined ? 0o600 : validateInteger(value, 'options.mode', 0, 0o777);
}

/**
 * A timeout in milliseconds: undefined or Infinity mean "forever" (returned as -1, the addon's encoding),
 * 0 means "do not block".
 */
export function validateTimeout(value: unknown, name = 'options.timeout'): number {
  if (value === undefined || value === Infinity) return -1;
  if (typeof value !== 'number') throw invalidArgType(name, 'of type number', value);
  if (Number.isNaN(value) || value < 0) throw outOfRange(name, 'a non-negative number of milliseconds', value);
  return value;
}
