/**
 * What a queue item becomes in the ring, and back: the only place where queues use the reduction step
 * (transfer.ts), so that shared objects inside items arrive as handles and everything the reduction learns
 * (e.g. class instances) applies to queue items too.
 *
 * Tags (the high bits of a frame's flags word, see posix_mp.h):
 * - BYTES: a Buffer, as its raw bytes (a C peer reads and writes these); it arrives as a Buffer.
 * - VALUE: `v8.serialize` of the item.
 * - SHARED: `v8.serialize` of `[descriptions, encoded item]`, the item holding shared objects by name.
 * - NUMBER: a number, as a float64 in native byte order; STRING: a string, as UTF-8. These skip V8's
 *   serializer, whose fixed cost dominates small items.
 *
 * Anonymous shared objects live in memfd memory whose descriptor a ring of bytes cannot carry: putting one
 * throws `ERR_MP_TRANSFER` (pass it to the Process instead, or give it a name).
 * @internal
 */
import { endianness } from 'node:os';
import { deserialize, serialize } from 'node:v8';

import { mpError } from '../internal/errors.js';
import { decode, Outgoing, reviveShared, type WireDescription } from './transfer.js';
import type { RawMessage } from './queue_ring.js';

/** Frame tags (`PMP_QUEUE_TAG_*` in posix_mp.h). */
export const enum Tag {
  Value = 1,
  Bytes = 2,
  Shared = 3,
  Number = 4,
  String = 5,
}

const LITTLE_ENDIAN = endianness() === 'LE';

/** Turns an item into a tagged message. */
export function encodeItem(item: unknown): RawMessage {
  if (typeof item === 'number') {
    const bytes = new Uint8Array(8);
    new DataView(bytes.buffer).setFloat64(0, item, LITTLE_ENDIAN);
    return { tag: Tag.Number, bytes };
  }
  if (typeof item === 'string') return { tag: Tag.String, bytes: Buffer.from(item, 'utf8') };
  if (typeof item !== 'object' || item === null) return { tag: Tag.Value, bytes: serialize(item) };
  if (Buffer.isBuffer(item)) return { tag: Tag.Bytes, bytes: item };
  const outgoing = new Outgoing();
  const encoded = outgoing.encode(item);
  if (outgoing.descriptions.length === 0) return { tag: Tag.Value, bytes: serialize(encoded) };
  if (outgoing.files.length > 0) {
    const anonymous = outgoing.descriptions.find((d) => d.memory)!;
    throw mpError(
      'ERR_MP_TRANSFER',
      `the ${anonymous.kind} in this item is anonymous: its memory cannot travel through a queue. ` +
        `Create it with a name ({ name }), or pass it to the Process in its args`,
    );
  }
  return { tag: Tag.Shared, bytes: serialize([outgoing.descriptions, encoded]) };
}

/**
 * A message's item, deserialized while the message is still in the ring. A SHARED item still has its shared
 * objects to revive, which happens after the read is committed (`reviveItem`): reviving may fail (an object
 * unlinked meanwhile) and must not leave the message in the queue to fail again.
 */
export type TakenItem = { item: unknown; reduced?: undefined } | { reduced: WireDescription[]; encoded: unknown };

/** Deserializes a message. `message.bytes` may be a view of the ring: nothing keeps it. */
export function takeItem(message: RawMessage): TakenItem {
  switch (message.tag) {
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
    case Tag.Shared: {
      const [reduced, encoded] = deserialize(message.bytes) as [WireDescription[], unknown];
      return { reduced, encoded };
    }
    default:
      throw mpError('ERR_MP_PROTOCOL', `a queue message has the unknown tag ${message.tag}`);
  }
}

/** The item of a taken message, its shared objects revived (blocking: for the Sync forms). */
export function reviveItem(taken: TakenItem): unknown {
  if (taken.reduced === undefined) return taken.item;
  return decode(taken.encoded, reviveShared(taken.reduced, [], []));
}

/** The item of a taken message, its shared objects revived (for the async forms). */
export async function reviveItemAsync(taken: TakenItem): Promise<unknown> {
  return reviveItem(taken);
}
