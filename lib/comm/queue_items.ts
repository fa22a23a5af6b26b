/**
 * What a queue item becomes in the ring, and back: the only place where queues use the reduction step
 * (reduction.ts), so that queue items travel as a Process's arguments and Connection messages do — shared
 * objects as handles, functions and classes by reference, class instances with their class.
 *
 * Tags (the high bits of a frame's flags word, `PMP_QUEUE_TAG_*` in posix_mp.h):
 * - BYTES: a Buffer, as its raw bytes (a C peer reads and writes these); it arrives as a Buffer.
 * - VALUE: `v8.serialize` of the item, when nothing in it needed reducing.
 * - REDUCED: `v8.serialize` of `[reduced, encoded item]` (see `Reduced` in reduction.ts): the item holds
 *   shared objects by name, or functions, classes or class instances by reference.
 * - NUMBER: a number, as a float64 in native byte order; STRING: a string without lone surrogates, as UTF-8.
 *   These skip V8's serializer, whose fixed cost dominates small items.
 * - PLAIN: any other item that is only plain data (objects, arrays, strings, numbers, booleans, null,
 *   undefined), in plain_codec.ts's format, which skips V8's serializer too.
 * - PASSED: a token, then as REDUCED: the item also passes descriptors (the memory of anonymous shared
 *   objects, Connections' sockets), which travel on the queue's socket pair (queue_channel.ts) with that
 *   token. Only an anonymous queue has one: a named queue, which unrelated processes may open, refuses such
 *   items with `ERR_MP_TRANSFER`.
 */
import { endianness } from 'node:os';
import { deserialize } from 'node:v8';

import { mpError } from '../internal/errors.js';
import { LAYOUT } from '../internal/layout.js';
import { decodePlain, encodePlain, wellFormed } from './plain_codec.js';
import { TOKEN_BYTES, tokenOf } from './queue_channel.js';
import type { RawMessage } from './queue_ring.js';
import { Outgoing, receive, receiveSync, serializeEncoded, type Reduced } from './reduction.js';

const { constants } = LAYOUT;

/** Frame tags. */
const Tag = {
  Value: constants.PMP_QUEUE_TAG_VALUE,
  Bytes: constants.PMP_QUEUE_TAG_BYTES,
  Reduced: constants.PMP_QUEUE_TAG_REDUCED,
  Number: constants.PMP_QUEUE_TAG_NUMBER,
  String: constants.PMP_QUEUE_TAG_STRING,
  Passed: constants.PMP_QUEUE_TAG_PASSED,
  Plain: constants.PMP_QUEUE_TAG_PLAIN,
} as const;

/** Descriptors one datagram may carry (the kernel's SCM_MAX_FD). */
const MAX_FDS = 253;

const LITTLE_ENDIAN = endianness() === 'LE';

/** How a queue item is named in errors. */
const PATH = 'item';

/**
 * Turns an item into a tagged message. `passesFds`: the queue has a socket pair for descriptors (a PASSED
 * message's first TOKEN_BYTES are left for its token).
 */
export function encodeItem(item: unknown, passesFds: boolean): RawMessage {
  if (typeof item === 'number') {
    const bytes = new Uint8Array(8);
    new DataView(bytes.buffer).setFloat64(0, item, LITTLE_ENDIAN);
    return { tag: Tag.Number, bytes };
  }
  // UTF-8 cannot hold a lone surrogate: a string with one takes the plain-data format, which can.
  if (typeof item === 'string' && wellFormed(item)) return { tag: Tag.String, bytes: Buffer.from(item, 'utf8') };
  if (Buffer.isBuffer(item)) return { tag: Tag.Bytes, bytes: item };
  const plain = encodePlain(item);
  if (plain !== undefined) return { tag: Tag.Plain, bytes: plain };
  if ((typeof item !== 'object' && typeof item !== 'function') || item === null) {
    return { tag: Tag.Value, bytes: serializeEncoded(item, item, PATH) };
  }
  const out = new Outgoing();
  const encoded = out.encode(item, PATH);
  const reduced = out.reduced();
  if (out.files.length > 0) {
    if (!passesFds) {
      const passed = out.descriptions.find((d) => d.memory !== undefined || d.descriptor !== undefined)!;
      throw mpError(
        'ERR_MP_TRANSFER',
        `the ${passed.kind} in this queue item ${passed.memory ? 'is anonymous: its memory' : 'is a descriptor, which'} ` +
          `cannot travel through a named queue, which processes that were not given its descriptors may open. ` +
          `Create the object with a name ({ name }), or use an anonymous queue`,
      );
    }
    if (out.files.length > MAX_FDS) {
      throw mpError('ERR_MP_TRANSFER', `one queue item can carry at most ${MAX_FDS} anonymous shared objects and Connections`);
    }
    const body = serializeEncoded([reduced, encoded], item, PATH);
    const bytes = Buffer.allocUnsafe(TOKEN_BYTES + body.length);
    bytes.set(body, TOKEN_BYTES);
    return { tag: Tag.Passed, bytes, fds: out.files.map((f) => f.fd) };
  }
  if (reduced.shared.length === 0 && reduced.references.length === 0) {
    return { tag: Tag.Value, bytes: serializeEncoded(encoded, item, PATH) };
  }
  return { tag: Tag.Reduced, bytes: serializeEncoded([reduced, encoded], item, PATH) };
}

/**
 * A message's item, deserialized while the message is still in the ring. A REDUCED item still has its
 * shared objects to revive and its classes to import, which happens after the read is committed
 * (`reviveItem`): that may fail (an object unlinked meanwhile, a module gone) and must not leave the message
 * in the queue to fail again.
 */
export type TakenItem =
  | { item: unknown; reduced?: undefined; token?: undefined }
  | { reduced: Reduced; encoded: unknown; token?: number; fds?: number[] };

/** Deserializes a message. `message.bytes` may be a view of the ring: nothing keeps it. */
export function takeItem(message: RawMessage): TakenItem {
  switch (message.tag) {
    case Tag.Plain:
      return { item: decodePlain(message.bytes) };
    case Tag.Value:
      return { item: deserialize(message.bytes) };
    case Tag.Bytes:
      return { item: message.copied ? message.bytes : Buffer.from(message.bytes) };
    case Tag.Number: {
      const { buffer, byteOffset } = message.bytes;
      return { item: new DataView(buffer, byteOffset, 8).getFloat64(0, LITTLE_ENDIAN) };
    }
    case Tag.String: {
      const { buffer, byteOffset, byteLength } = message.bytes;
      return { item: Buffer.from(buffer, byteOffset, byteLength).toString('utf8') };
    }
    case Tag.Reduced: {
      const [reduced, encoded] = deserialize(message.bytes) as [Reduced, unknown];
      return { reduced, encoded };
    }
    case Tag.Passed: {
      // The descriptors are received (by token) once the read is committed, still under get_lock.
      const [reduced, encoded] = deserialize(message.bytes.subarray(TOKEN_BYTES)) as [Reduced, unknown];
      return { reduced, encoded, token: tokenOf(message.bytes) };
    }
    default:
      throw mpError('ERR_MP_PROTOCOL', `a queue message has the unknown tag ${message.tag}`);
  }
}

/** The item of a taken message, revived (blocking: for the Sync forms; ES modules are loaded with require()). */
export function reviveItem(taken: TakenItem): unknown {
  if (taken.reduced === undefined) return taken.item;
  return receiveSync(taken.reduced, taken.fds ?? [])(taken.encoded);
}

/**
 * The item of a taken message, revived (for the async forms: the modules of its classes are imported, so
 * that modules with top-level await work too).
 */
export async function reviveItemAsync(taken: TakenItem): Promise<unknown> {
  if (taken.reduced === undefined) return taken.item;
  return (await receive(taken.reduced, taken.fds ?? []))(taken.encoded);
}
