/**
 * Names of shared objects: validation before any syscall, and the open-or-create options every named class
 * takes.
 */
import { randomBytes } from 'node:crypto';

import { invalidArgType, invalidArgValue, outOfRange } from '../internal/errors.js';
import { OpenMode } from '../internal/native.js';
import { validateBoolean, validateMode, validateOptions } from '../internal/validate.js';

/** NAME_MAX on Linux: one path component of /dev/shm. */
const NAME_MAX = 255;

/**
 * Validates a user-supplied name and returns it without its optional leading '/'. `reserved` is the number of
 * bytes the OS adds to the file name (glibc stores semaphores as /dev/shm/sem.NAME).
 */
export function validateName(value: unknown, name = 'options.name', reserved = 0): string {
  if (typeof value !== 'string') throw invalidArgType(name, 'of type string', value);
  const bare = value.startsWith('/') ? value.slice(1) : value;
  if (bare.length === 0) throw invalidArgValue(name, value, 'must not be empty');
  if (bare.includes('/')) throw invalidArgValue(name, value, "must not contain '/' after the leading one");
  if (bare.includes('\0')) throw invalidArgValue(name, value, 'must not contain NUL characters');
  if (bare === '.' || bare === '..') throw invalidArgValue(name, value, "must not be '.' or '..'");
  const bytes = Buffer.byteLength(bare);
  if (bytes + reserved > NAME_MAX) {
    throw outOfRange(`${name}.length`, `at most ${NAME_MAX - reserved} bytes`, bytes);
  }
  return bare;
}

/** A unique name for an anonymous object: `mp-<pid>-<random>`. */
export function anonymousName(): string {
  return `mp-${process.pid}-${randomBytes(6).toString('hex')}`;
}

/** The options every named shared object takes. */
export interface NameOptions {
  /** Open the object with this name if it exists, else create it. Without a name the object is anonymous. */
  name?: string;
  /** With `name`: only create; fail with `code: 'EEXIST'` if it exists. */
  exclusive?: boolean;
  /** Permission bits for creation (default `0o600`). */
  mode?: number;
}

/** Parsed form of {@link NameOptions}. */
export interface ParsedNameOptions {
  name: string | undefined;
  openMode: OpenMode;
  mode: number;
}

/**
 * An option key, not exported from the package, with which the static `X.open(name)` methods ask their
 * constructor to only open.
 */
export const OPEN_EXISTING: unique symbol = Symbol('posix-mp.openExisting');

/** Naming options as the static `open` methods pass them. */
export interface InternalNameOptions extends NameOptions {
  [OPEN_EXISTING]?: boolean;
}

/** Validates the naming options of a constructor. */
export function parseNameOptions(options: unknown, reserved = 0): ParsedNameOptions {
  const o = validateOptions<InternalNameOptions>(options);
  const name = o.name === undefined ? undefined : validateName(o.name, 'options.name', reserved);
  const exclusive = validateBoolean(o.exclusive, 'options.exclusive', false);
  const openMode = o[OPEN_EXISTING] ? OpenMode.Open : exclusive ? OpenMode.Create : OpenMode.OpenOrCreate;
  return { name, openMode, mode: validateMode(o.mode) };
}

/** The options with which `X.open(name)` calls its constructor. */
export function openExisting(name: unknown): InternalNameOptions {
  return { name: validateName(name, 'name'), [OPEN_EXISTING]: true };
}
