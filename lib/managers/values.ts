/**
 * How a value is stored in a shared container: one tag byte, then a number's float64 or a string's UTF-8
 * bytes, or else the bytes of reduction.ts (what a Queue item or a Process argument becomes). Shared objects
 * in it (a Lock, another container) are stored as their names, and a reader gets a working handle; class
 * instances keep their class, functions travel by reference.
 *
 * An anonymous shared object cannot be stored: it lives in memory that only a descriptor held by a process
 * reaches, and shared memory cannot hold a descriptor. Storing one throws ERR_MP_NOT_CLONEABLE telling to
 * name it — a Manager's objects are named for this reason.
 */
import { deserialize, serialize } from 'node:v8';

import { mpError } from '../internal/errors.js';
import { Outgoing, receiveSync, serializeEncoded, type Reduced } from '../comm/reduction.js';

/** Tag: v8 bytes of the value itself. */
const PLAIN = 0;
/** Tag: v8 bytes of `[reduced, encoded]`, decoded by reduction.ts's `receiveSync`. */
const REDUCED = 1;
// Numbers and strings, the common values, skip V8's serializer (about 1 µs each way): a float64, UTF-8.
/** Tag: a float64, little-endian. */
const NUMBER = 2;
/** Tag: a string's UTF-8 bytes. */
const STRING = 3;

/** The stored form of `value` (tag byte, then v8 bytes). `path` names it in errors. */
export function encodeValue(value: unknown, path: string): Buffer {
  if (typeof value === 'number') {
    const bytes = Buffer.allocUnsafe(9);
    bytes[0] = NUMBER;
    bytes.writeDoubleLE(value, 1);
    return bytes;
  }
  if (typeof value === 'string') {
    const bytes = Buffer.allocUnsafe(1 + Buffer.byteLength(value));
    bytes[0] = STRING;
    bytes.write(value, 1);
    return bytes;
  }
  if (typeof value !== 'object' && typeof value !== 'function' && typeof value !== 'symbol') return tagged(PLAIN, serialize(value));
  const out = new Outgoing();
  const encoded = out.encode(value, path);
  if (out.files.length > 0) {
    const anonymous = out.descriptions.find((d) => d.memory !== undefined)!;
    throw mpError(
      'ERR_MP_NOT_CLONEABLE',
      `${path} holds the anonymous ${anonymous.kind} '${anonymous.name}', which cannot be stored in a shared ` +
        `container: an anonymous object's memory is reached only through descriptors that processes hold, and ` +
        `shared memory cannot hold one. Give it a name ({ name: '...' }), or make it with a Manager, whose ` +
        `objects are named.`,
    );
  }
  if (out.descriptions.length === 0 && out.references.length === 0) {
    return tagged(PLAIN, serializeEncoded(encoded, value, path));
  }
  return tagged(REDUCED, serializeEncoded([out.reduced(), encoded], value, path));
}

function tagged(tag: number, bytes: Buffer): Buffer {
  const result = Buffer.allocUnsafe(bytes.length + 1);
  result[0] = tag;
  bytes.copy(result, 1);
  return result;
}

/**
 * A stored value that refers to functions, classes or shared objects: decoding it may import modules, whose
 * top-level code must not run while a container is locked (it could use that container), so it is copied out
 * under the lock and decoded by {@link settle} after.
 */
class Deferred {
  constructor(readonly bytes: Buffer) {}
}

/**
 * Under the container's lock: the value stored as `bytes` (a view of shared memory, not kept), or a Deferred
 * copy for {@link settle} to decode once the lock is released.
 */
export function readValue(bytes: Buffer): unknown {
  const tag = bytes[0];
  if (tag === NUMBER) return bytes.readDoubleLE(1);
  if (tag === STRING) return bytes.toString('utf8', 1);
  if (tag === PLAIN) return deserialize(bytes.subarray(1));
  return new Deferred(Buffer.from(bytes.subarray(1)));
}

/** After the lock is released: the value `readValue` returned, decoded. */
export function settle<T>(value: unknown): T {
  if (!(value instanceof Deferred)) return value as T;
  const [reduced, encoded] = deserialize(value.bytes) as [Reduced, unknown];
  return receiveSync(reduced, [])(encoded) as T;
}
