/**
 * What `Connection.send(value)` puts in one frame, and how `recv()` turns it back into a value. This is the
 * only place where connections use the transfer machinery (transfer.ts): the value is copied with the
 * shared objects in it replaced by placeholders, then `v8.serialize`d. The frame's first byte says how:
 *
 * - `PLAIN`: no shared object; the rest is the serialized value.
 * - `SHARED`: the rest is `{ value, shared, fileIds }`; the descriptors of the memory files of anonymous
 *   objects (and of Connections) are attached to the frame (SCM_RIGHTS), in `fileIds` order.
 * - `BUFFER` / `STRING`: the value is a Buffer / a string, and the rest is its bytes / UTF-8 — the same result
 *   as through V8 serialization, several times cheaper for the commonest small messages.
 * - `IN_FILE` flag (with any of the above): the bytes after the tag are in a memory file whose descriptor is
 *   attached first; the frame is the tag alone. Messages over 64 KiB go this way on sockets, so that
 *   sending one never waits for the reader: the sender may even exit before the message is read.
 *
 * Between Node peers only: Python's `recv()` expects a pickle (use sendBytes/recvBytes with Python).
 * @internal
 */
import { readFileSync, writeSync } from 'node:fs';
import { deserialize, serialize } from 'node:v8';

import { mpError } from '../internal/errors.js';
import { binding } from '../internal/native.js';
import { decode, Outgoing, reviveShared, type WireDescription } from './transfer.js';

const PLAIN = 0;
const SHARED = 1;
const BUFFER = 2;
const STRING = 3;
const IN_FILE = 0x80;

/** Serialized messages larger than this travel in a memory file on sockets. */
export const IN_FILE_THRESHOLD = 64 * 1024;
/** Descriptors one frame may carry (the kernel's SCM_MAX_FD). */
const MAX_FDS = 253;

interface Envelope {
  value: unknown;
  shared: WireDescription[];
  fileIds: string[];
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
 */
export function encodeMessage(value: unknown, passesFds: boolean): EncodedMessage {
  let tag: number;
  let body: Uint8Array;
  let fds: number[] = [];
  if (typeof value === 'string') {
    tag = STRING;
    body = Buffer.from(value, 'utf8');
  } else if (Buffer.isBuffer(value)) {
    tag = BUFFER;
    body = value;
  } else {
    const out = new Outgoing();
    const encoded = out.encode(value);
    if (out.descriptions.length === 0) {
      tag = PLAIN;
      body = serialize(encoded);
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
      tag = SHARED;
      const envelope: Envelope = { value: encoded, shared: out.descriptions, fileIds: out.files.map((f) => f.id) };
      body = serialize(envelope);
      fds = out.files.map((f) => f.fd);
    }
  }
  if (passesFds && body.length > IN_FILE_THRESHOLD) {
    const memfd = binding.memfdCreate('posix-mp-message');
    try {
      for (let done = 0; done < body.length; ) done += writeSync(memfd, body, done, body.length - done, done);
    } catch (error) {
      binding.closeFd(memfd);
      throw error;
    }
    return { payload: Buffer.of(tag | IN_FILE), fds: [memfd, ...fds], owned: [memfd] };
  }
  const payload = Buffer.allocUnsafe(body.length + 1);
  payload[0] = tag;
  payload.set(body, 1);
  return { payload, fds, owned: [] };
}

/** Decodes a frame's payload; takes ownership of the descriptors that came with it. */
export function decodeMessage(payload: Buffer, fds: number[]): unknown {
  const first = payload[0] ?? PLAIN;
  const tag = first & ~IN_FILE;
  let body: Buffer;
  if (first & IN_FILE && payload.length === 1 && fds.length > 0) {
    const memfd = fds.shift()!;
    try {
      body = readFileSync(memfd);
    } finally {
      binding.closeFd(memfd);
    }
  } else {
    body = payload.subarray(1);
  }
  if (tag !== SHARED) {
    for (const fd of fds) binding.closeFd(fd);
    if (tag === BUFFER) return body;
    if (tag === STRING) return body.toString('utf8');
    if (tag === PLAIN) return deserialize(body);
    throw mpError('ERR_MP_PROTOCOL', 'not a message sent by Connection.send() (use recvBytes() for raw bytes)');
  }
  let envelope: Envelope;
  try {
    envelope = deserialize(body) as Envelope;
    if (envelope.fileIds.length !== fds.length) throw mpError('ERR_MP_PROTOCOL', 'a message arrived without its descriptors');
  } catch (error) {
    for (const fd of fds) binding.closeFd(fd);
    throw error;
  }
  return decode(envelope.value, reviveShared(envelope.shared, envelope.fileIds, fds));
}
