/**
 * Framing: how one message's bytes (and descriptors) are delimited on a channel — as opposed to reduction
 * (reduction.ts), which decides what the bytes say.
 *
 * The length prefix is Python's `multiprocessing.connection` format, so that every channel of this package
 * frames alike and a Python-compatible Connection can reuse it: a 4-byte big-endian signed length, or, for
 * bodies over 0x7fffffff bytes, -1 followed by an 8-byte big-endian length.
 *
 * On a descriptor-passing channel (an AF_UNIX SOCK_SEQPACKET socket from `binding.socketPair()`, used by
 * Process jobs), a frame is one message `[length header][u32 descriptor count][body]` with SCM_RIGHTS
 * descriptors attached. Writing never blocks for long, whatever the body's size: a body that would not fit
 * in one socket message travels in a memfd whose descriptor goes first (the message then holds only the two
 * headers), so a peer that is still booting does not hold the writer up. Descriptors beyond what one message
 * carries follow in messages of one zero byte each.
 */
import { readFileSync, writeSync } from 'node:fs';

import { mpError } from '../internal/errors.js';
import { binding } from '../internal/native.js';

/** The largest length the 4-byte form of the header holds. */
const SHORT_LENGTH_MAX = 0x7fffffff;

/** Python's length header for a body of `length` bytes: 4 bytes, or 12 for bodies over 2 GiB - 1. */
export function encodeFrameHeader(length: number): Buffer {
  if (length <= SHORT_LENGTH_MAX) {
    const header = Buffer.allocUnsafe(4);
    header.writeInt32BE(length, 0);
    return header;
  }
  const header = Buffer.allocUnsafe(12);
  header.writeInt32BE(-1, 0);
  header.writeBigUInt64BE(BigInt(length), 4);
  return header;
}

/**
 * Reads a length header at `offset`: the body's length and the header's size, or null if `bytes` does not
 * hold the whole header yet.
 */
export function decodeFrameHeader(bytes: Uint8Array, offset = 0): { length: number; headerSize: number } | null {
  if (bytes.length - offset < 4) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset);
  const short = view.getInt32(0);
  if (short !== -1) {
    if (short < 0) throw mpError('ERR_MP_PROTOCOL', `invalid frame length ${short}`);
    return { length: short, headerSize: 4 };
  }
  if (bytes.length - offset < 12) return null;
  const long = view.getBigUint64(4);
  if (long > BigInt(Number.MAX_SAFE_INTEGER)) throw mpError('ERR_MP_PROTOCOL', `invalid frame length ${long}`);
  return { length: Number(long), headerSize: 12 };
}

/**
 * A new memory file (memfd) holding `bytes`, to pass instead of a body too large to write without waiting
 * for the reader. The descriptor is the caller's to close.
 */
export function memoryFileOf(bytes: Uint8Array, name: string): number {
  const memfd = binding.memfdCreate(name);
  try {
    for (let done = 0; done < bytes.length; ) done += writeSync(memfd, bytes, done, bytes.length - done, done);
  } catch (error) {
    binding.closeFd(memfd);
    throw error;
  }
  return memfd;
}

/** The content of a memory file received in place of a body; closes its descriptor. */
export function readMemoryFile(memfd: number): Buffer {
  try {
    return readFileSync(memfd);
  } finally {
    binding.closeFd(memfd);
  }
}

/** Largest body sent inside the message: SOCK_SEQPACKET messages must fit in the socket buffer (~208 KiB). */
const INLINE_LIMIT = 60 * 1024;
/** The descriptor count that follows the length header. */
const COUNT_SIZE = 4;
/** A message carrying only more descriptors of the frame before it. */
const MORE_DESCRIPTORS = Uint8Array.of(0);

/** One frame read from a channel: its body and the descriptors that came with it (now the reader's). */
export interface Frame {
  bytes: Buffer;
  fds: number[];
}

/**
 * Writes one frame (`bytes`, plus duplicates of `fds`) on a descriptor-passing channel. Blocks only while
 * the socket buffer is full of earlier frames, never for the body's size.
 */
export function writeFrame(channel: number, bytes: Uint8Array, fds: readonly number[] = []): void {
  const rest = [...fds];
  const max = binding.maxFdsPerMessage;
  const header = encodeFrameHeader(bytes.length);
  const count = Buffer.allocUnsafe(COUNT_SIZE);
  count.writeUInt32BE(fds.length, 0);
  if (bytes.length <= INLINE_LIMIT) {
    binding.sendMessage(channel, Buffer.concat([header, count, bytes]), rest.splice(0, max));
  } else {
    const memfd = memoryFileOf(bytes, 'posix-mp-frame');
    try {
      binding.sendMessage(channel, Buffer.concat([header, count]), [memfd, ...rest.splice(0, max - 1)]);
    } finally {
      binding.closeFd(memfd);
    }
  }
  while (rest.length > 0) binding.sendMessage(channel, MORE_DESCRIPTORS, rest.splice(0, max));
}

/** Reads one frame, blocking until it arrives; null when the channel was closed without one (EOF). */
export function readFrame(channel: number): Frame | null {
  const first = binding.receiveMessage(channel, INLINE_LIMIT + 12 + COUNT_SIZE);
  if (first === null) return null;
  const fds = first.fds;
  try {
    const header = decodeFrameHeader(first.bytes);
    if (header === null || first.bytes.length < header.headerSize + COUNT_SIZE) {
      throw mpError('ERR_MP_PROTOCOL', 'malformed frame');
    }
    const start = header.headerSize + COUNT_SIZE;
    const expected = first.bytes.readUInt32BE(header.headerSize);
    let bytes: Buffer;
    if (first.bytes.length === start + header.length) {
      bytes = first.bytes.subarray(start);
    } else if (first.bytes.length === start && fds.length > 0) {
      bytes = readMemoryFile(fds.shift()!);
      if (bytes.length !== header.length) throw mpError('ERR_MP_PROTOCOL', 'a frame body is truncated');
    } else {
      throw mpError('ERR_MP_PROTOCOL', 'malformed frame');
    }
    while (fds.length < expected) {
      const more = binding.receiveMessage(channel, 1);
      if (more === null) throw mpError('ERR_MP_PROTOCOL', 'the channel closed before all descriptors of a frame arrived');
      fds.push(...more.fds);
    }
    return { bytes, fds };
  } catch (error) {
    for (const fd of fds) binding.closeFd(fd);
    throw error;
  }
}
