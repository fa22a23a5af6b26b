/**
 * What `Connection.send(obj)` puts in one frame, and how `recv()` turns it back into a value: the value is
 * reduced (reduction.ts) exactly as a Process's arguments are — shared objects, Connections, exported
 * functions and classes, instances of exported classes — then `v8.serialize`d. The frame's first byte says
 * how:
 *
 * - `PLAIN`: nothing in the value needed reducing; the rest is the serialized value.
 * - `REDUCED`: the rest is `{ value, reduced }` (see `Reduced`); the descriptors the value passes (memory
 *   files of anonymous objects, Connections' sockets) are attached to the frame (SCM_RIGHTS), in
 *   `reduced.fileIds` order.
 * - `BUFFER` / `STRING`: the value is a Buffer / a string without lone surrogates, and the rest is its bytes /
 *   UTF-8 — the same result as through V8 serialization, several times cheaper for the commonest small
 *   messages.
 * - `COMPACT`: the value is plain data (objects, arrays, strings, numbers...: see plain_codec.ts), and the
 *   rest is it in that format, also several times cheaper than V8 serialization for small values.
 * - `IN_FILE` flag (with any of the above): the bytes after the tag are in a memory file whose descriptor is
 *   attached first; the frame is the tag alone. Messages over 64 KiB go this way on sockets, so that
 *   sending one never waits for the reader: the sender may even exit before the message is read.
 *
 * Between Node peers only: Python's `recv()` expects a pickle (use sendBytes/recvBytes with Python).
 */
import { DefaultSerializer, deserialize } from 'node:v8';

import { mpError } from '../internal/errors.js';
import { binding } from '../internal/native.js';
import { memoryFileOf, readMemoryFile } from './framing.js';
import { decodePlain, encodePlain, wellFormed } from './plain_codec.js';
import { Outgoing, receive, receiveSync, serializeEncoded, type Reduced } from './reduction.js';

const PLAIN = 0;
const REDUCED = 1;
const BUFFER = 2;
const STRING = 3;
const COMPACT = 4;
const IN_FILE = 0x80;

/** Serialized messages larger than this travel in a memory file on sockets. */
const IN_FILE_THRESHOLD = 64 * 1024;
/** Descriptors one frame may carry (the kernel's SCM_MAX_FD). */
const MAX_FDS = 253;

interface Envelope {
  value: unknown;
  reduced: Reduced;
}

/** One encoded message: the frame's payload, and the descriptors to attach (`owned` ones to close once sent). */
export interface EncodedMessage {
  payload: Buffer;
  fds: number[];
  owned: number[];
}

/**
 * Encodes `value` for a frame. `passesFds`: descriptors can be attached (an AF_UNIX socket); else anonymous
 * shared objects and Connections are refused (a pipe or TCP cannot carry them), and large messages go inline.
 * A part that cannot travel is named by its path (`obj.items[2]`) in an ERR_MP_NOT_CLONEABLE error.
 */
export function encodeMessage(value: unknown, passesFds: boolean): EncodedMessage {
  let tag: number;
  let body: Uint8Array;
  let fds: number[] = [];
  let plain: Uint8Array | undefined;
  if (typeof value === 'string' && wellFormed(value)) {
    tag = STRING;
    body = Buffer.from(value, 'utf8');
  } else if (Buffer.isBuffer(value)) {
    tag = BUFFER;
    body = value;
  } else if ((plain = encodePlain(value)) !== undefined) {
    tag = COMPACT;
    body = plain;
  } else {
    const out = new Outgoing();
    const encoded = out.encode(value, 'obj');
    if (out.descriptions.length === 0 && out.references.length === 0) {
      tag = PLAIN;
      body = serializeEncoded(encoded, value, 'obj');
    } else {
      if (out.files.length > 0 && !passesFds) {
        throw mpError(
          'ERR_MP_TRANSFER',
          'anonymous shared objects and Connections can only be sent over a Unix socket (Pipe(), or a Listener/Client on a path), not a one-way pipe or TCP: their descriptors must travel; use named objects',
        );
      }
      if (out.files.length > MAX_FDS - 1) {
        throw mpError('ERR_MP_TRANSFER', `one message can carry at most ${MAX_FDS - 1} memory files and Connections`);
      }
      tag = REDUCED;
      const envelope: Envelope = { value: encoded, reduced: out.reduced() };
      body = serializeEncoded(envelope, value, 'obj');
      fds = out.files.map((f) => f.fd);
    }
  }
  if (passesFds && body.length > IN_FILE_THRESHOLD) {
    const memfd = memoryFileOf(body, 'posix-mp-message');
    return { payload: Buffer.of(tag | IN_FILE), fds: [memfd, ...fds], owned: [memfd] };
  }
  const payload = Buffer.allocUnsafe(body.length + 1);
  payload[0] = tag;
  payload.set(body, 1);
  return { payload, fds, owned: [] };
}

/**
 * The payload of a message whose sender knows there is nothing to reduce in its value (flat data), which
 * saves reduction's walk over it: sent with `sendBytes`, it is decoded by `recv()` as any message.
 */
export function plainMessage(value: unknown): Buffer {
  const serializer = new DefaultSerializer();
  serializer.writeRawBytes(Buffer.of(PLAIN));
  serializer.writeHeader();
  serializer.writeValue(value);
  return serializer.releaseBuffer();
}

/**
 * A frame's message: its value, or, if that needs reducing back (`REDUCED`), what `receive` needs for it.
 * Takes ownership of the descriptors: those a reduced value passes are handed on in `fds`, others closed.
 */
function openMessage(payload: Buffer, fds: number[]): { value: unknown } | { envelope: Envelope; fds: number[] } {
  const first = payload[0] ?? PLAIN;
  const tag = first & ~IN_FILE;
  let body: Buffer;
  try {
    body = first & IN_FILE && payload.length === 1 && fds.length > 0 ? readMemoryFile(fds.shift()!) : payload.subarray(1);
    if (tag === REDUCED) {
      const envelope = deserialize(body) as Envelope;
      if (envelope.reduced.fileIds.length !== fds.length) throw mpError('ERR_MP_PROTOCOL', 'a message arrived without its descriptors');
      return { envelope, fds };
    }
  } catch (error) {
    for (const fd of fds) binding.closeFd(fd);
    throw error;
  }
  for (const fd of fds) binding.closeFd(fd);
  if (tag === BUFFER) return { value: body };
  if (tag === STRING) return { value: body.toString('utf8') };
  if (tag === COMPACT) return { value: decodePlain(body) };
  if (tag === PLAIN) return { value: deserialize(body) };
  throw mpError('ERR_MP_PROTOCOL', 'not a message sent by Connection.send() (use recvBytes() for raw bytes)');
}

/**
 * Decodes a frame's payload, importing the functions and classes it refers to; takes ownership of the
 * descriptors that came with it.
 */
export async function decodeMessage(payload: Buffer, fds: number[]): Promise<unknown> {
  const message = openMessage(payload, fds);
  if ('value' in message) return message.value;
  const decode = await receive(message.envelope.reduced, message.fds);
  return decode(message.envelope.value);
}

/** {@link decodeMessage} for receivers that cannot wait: ES modules are loaded with require(). */
export function decodeMessageSync(payload: Buffer, fds: number[]): unknown {
  const message = openMessage(payload, fds);
  if ('value' in message) return message.value;
  return receiveSync(message.envelope.reduced, message.fds)(message.envelope.value);
}
