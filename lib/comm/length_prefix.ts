/**
 * The byte framing of Python's `multiprocessing.connection`: each message is preceded by its length as a
 * 4-byte big-endian signed integer; a message longer than 0x7fffffff bytes by the 4 bytes of -1 and then
 * its length as an 8-byte big-endian unsigned integer. A Connection frames everything it sends this way, so
 * that a Python peer's `send_bytes`/`recv_bytes` interoperate with `sendBytes`/`recvBytes`.
 * @internal
 */
import { mpError } from '../internal/errors.js';

/** Lengths above this take the 12-byte header. */
const SHORT_MAX = 0x7fffffff;

/** The header that precedes a message of `size` bytes. */
export function encodeHeader(size: number): Buffer {
  if (size <= SHORT_MAX) {
    const header = Buffer.allocUnsafe(4);
    header.writeInt32BE(size, 0);
    return header;
  }
  const header = Buffer.allocUnsafe(12);
  header.writeInt32BE(-1, 0);
  header.writeBigUInt64BE(BigInt(size), 4);
  return header;
}

/** A parsed header: the message's size and the header's own length. */
export interface Header {
  size: number;
  length: 4 | 12;
}

/**
 * Parses the header at `bytes[start..end)`; `undefined` if more bytes are needed. A header no sender of this
 * framing could have written (a negative length other than -1, a length beyond what a Buffer can hold) is
 * an error: the stream is not speaking this protocol.
 */
export function parseHeader(bytes: Buffer, start: number, end: number): Header | undefined {
  if (end - start < 4) return undefined;
  const short = bytes.readInt32BE(start);
  if (short >= 0) return { size: short, length: 4 };
  if (short !== -1) throw mpError('ERR_MP_PROTOCOL', `malformed message header (length ${short})`);
  if (end - start < 12) return undefined;
  const long = bytes.readBigUInt64BE(start + 4);
  if (long > BigInt(Number.MAX_SAFE_INTEGER)) throw mpError('ERR_MP_PROTOCOL', `malformed message header (length ${long})`);
  return { size: Number(long), length: 12 };
}
