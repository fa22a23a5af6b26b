/**
 * Pipe (Python's `multiprocessing.Pipe`): two connected Connections.
 */
import { binding } from '../internal/native.js';
import { validateBoolean } from '../internal/validate.js';
import { Connection } from './connection.js';

/**
 * Returns two connected Connections. `duplex` (default): a Unix socket pair, both ends send and receive, and
 * shared objects and Connections can travel through it. `duplex = false`: a pipe, `[reader, writer]`; the
 * reader cannot send, and anonymous shared objects cannot travel (their descriptors need a socket).
 */
export function Pipe(duplex = true): [Connection, Connection] {
  const isDuplex = validateBoolean(duplex, 'duplex', true);
  const [a, b] = isDuplex ? binding.streamPair() : binding.pipe();
  try {
    if (isDuplex) return [new Connection(a), new Connection(b)];
    return [new Connection(a, { writable: false }), new Connection(b, { readable: false })];
  } catch (error) {
    binding.closeFd(a);
    binding.closeFd(b);
    throw error;
  }
}
