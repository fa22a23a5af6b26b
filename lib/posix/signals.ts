/**
 * Signal names and numbers, the way Node spells them (`os.constants.signals`).
 */
import { constants } from 'node:os';

import { invalidArgType, outOfRange, unknownSignal } from '../internal/errors.js';

/** A signal: a name such as `'SIGTERM'` or its number. */
export type Signal = NodeJS.Signals | number;

/** The highest signal number on Linux (SIGRTMAX). */
export const MAX_SIGNAL = 64;
/** glibc's SIGRTMIN: 32 and 33 are reserved for its threads. */
const SIGRTMIN = 34;

const numbers = constants.signals as Record<string, number>;
const names = new Map<number, string>();
// Aliases (SIGIOT = SIGABRT, SIGPOLL = SIGIO) come after the usual name in os.constants, so first wins.
for (const [name, n] of Object.entries(numbers)) if (!names.has(n)) names.set(n, name);

/**
 * Validates a signal and returns its number. Names must be exact (`'SIGTERM'`, as `process.kill` takes
 * them) and unknown names throw a TypeError with `code: 'ERR_UNKNOWN_SIGNAL'`, like Node. Numbers run from
 * `min` (0 is the "does it exist" probe of kill) to 64.
 */
export function signalNumber(value: unknown, name: string, min = 1): number {
  if (typeof value === 'string') {
    const n = numbers[value];
    if (n === undefined) throw unknownSignal(value);
    return n;
  }
  if (typeof value !== 'number') throw invalidArgType(name, 'of type string or number', value);
  if (!Number.isInteger(value) || value < min || value > MAX_SIGNAL) {
    throw outOfRange(name, `a signal name or an integer >= ${min} and <= ${MAX_SIGNAL}`, value);
  }
  return value;
}

/** The name Node uses for a signal number; real-time signals are `'SIGRTMIN+n'`. */
export function signalName(n: number): string {
  return names.get(n) ?? (n >= SIGRTMIN ? `SIGRTMIN+${n - SIGRTMIN}` : `SIG${n}`);
}
