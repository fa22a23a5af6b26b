/**
 * The errors of Queue operations that cannot complete: Python's `queue.Full` and `queue.Empty`, and the end
 * of a closed handle's items.
 */
import { mpError, type CodedError } from '../internal/errors.js';

/** Thrown by `put` when the queue stays full (Python's `queue.Full`); `code: 'ERR_MP_FULL'`. */
export class Full extends Error implements CodedError {
  /** Always `'ERR_MP_FULL'`. */
  readonly code = 'ERR_MP_FULL';

  /** @internal */
  constructor(message = 'the queue is full') {
    super(message);
    this.name = 'Full';
  }
}

/** Thrown by `get` when the queue stays empty (Python's `queue.Empty`); `code: 'ERR_MP_EMPTY'`. */
export class Empty extends Error implements CodedError {
  /** Always `'ERR_MP_EMPTY'`. */
  readonly code = 'ERR_MP_EMPTY';

  /** @internal */
  constructor(message = 'the queue is empty') {
    super(message);
    this.name = 'Empty';
  }
}

/** @internal `code: 'ERR_MP_EOF'`: `get` on a handle that was closed. */
export function eofError(what: string): Error & CodedError {
  return mpError('ERR_MP_EOF', `this ${what} handle is closed: it gets no more items`);
}
