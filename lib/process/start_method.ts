/**
 * Start methods, as Python names them: how `Process.start()` obtains the child's Node.
 * - `'forkserver'`: a fork server — a small idle Node with posix-mp loaded and no user code, started on
 *   first use — forks the child, which then receives its job like a prepared interpreter (~2 ms a start).
 * - `'spawn'`: a fresh Node per child (a prepared one when ready, see setPreparedInterpreters).
 *
 * Default: `'forkserver'` where this Node passes the fork server's self-check, else `'spawn'`; the
 * environment variable `POSIX_MP_START_METHOD` chooses another default.
 */
import { invalidArgValue } from '../internal/errors.js';
import { forkServerAddon, forkServerProblem } from './forkserver_native.js';

/** How a Process child is started: see {@link setStartMethod}. */
export type StartMethod = 'forkserver' | 'spawn';

const METHODS: readonly StartMethod[] = ['forkserver', 'spawn'];
const CHOSEN = Symbol.for('posix-mp.start-method');

type Global = typeof globalThis & { [CHOSEN]?: StartMethod };

/** The start methods this Node supports, the default first (Python's `get_all_start_methods()`). */
export function getAllStartMethods(): StartMethod[] {
  return forkServerAddon() ? ['forkserver', 'spawn'] : ['spawn'];
}

/** The method a Process uses when it names none. */
export function getStartMethod(): StartMethod {
  const g = globalThis as Global;
  return (g[CHOSEN] ??= defaultMethod());
}

function defaultMethod(): StartMethod {
  const fromEnvironment = process.env.POSIX_MP_START_METHOD;
  if (fromEnvironment === 'spawn') return 'spawn';
  // 'forkserver', nothing, or a value this version does not know: the best available.
  return forkServerAddon() ? 'forkserver' : 'spawn';
}

/**
 * Sets the start method of later `Process.start()` calls that name none (Python's `set_start_method()`; it
 * may be changed at any time here). `'forkserver'` throws `ERR_INVALID_ARG_VALUE` on a Node where the fork
 * server is unavailable; {@link getAllStartMethods} lists the available ones.
 */
export function setStartMethod(method: StartMethod): void {
  (globalThis as Global)[CHOSEN] = validateStartMethod(method, 'method');
}

/** Checks a start method named by the user: a known one, available on this Node. */
export function validateStartMethod(method: unknown, name: string): StartMethod {
  if (!METHODS.includes(method as StartMethod)) throw invalidArgValue(name, method, `must be one of ${METHODS.map((m) => `'${m}'`).join(', ')}`);
  if (method === 'forkserver' && !forkServerAddon()) {
    throw invalidArgValue(name, method, `is not available on this Node (${forkServerProblem()})`);
  }
  return method as StartMethod;
}
