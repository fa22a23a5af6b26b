/**
 * `arr[i]` and `arr[i] = v` on an Array, through its checked `get` and `set`. JavaScript has no indexed
 * accessors for ordinary objects, and a Proxy around each instance would slow down every property access.
 * Instead one Proxy sits at the bottom of the handles' prototype chain, below every class prototype: methods
 * and fields resolve as usual, and only lookups that miss everything else — `arr[3]` among them — reach its
 * traps. A numeric key on an indexed handle goes to `get`/`set` (which throw for an index out of range or a
 * value the type cannot hold: nothing is silently lost); anything else continues to Object.prototype.
 */

/** Marks the prototype of a class whose instances take integer keys. */
const INDEXED: unique symbol = Symbol('posix-mp.indexed');

/** What an indexed handle provides. */
interface Indexed {
  [INDEXED]?: true;
  get(index: number): unknown;
  set(index: number, value: unknown): void;
}

/** The number a property key names if it is a canonical numeric string ('3', '-1', '1.5'; not '03' or '1e3'). */
function numericKey(key: string | symbol): number | undefined {
  if (typeof key !== 'string') return undefined;
  const n = Number(key);
  return String(n) === key || key === '-0' ? n : undefined;
}

const handler: ProxyHandler<object> = {
  // The key first: looking INDEXED up on a handle without it comes back here, with a symbol key.
  get(target, key, receiver: Indexed) {
    const index = numericKey(key);
    if (index !== undefined && receiver[INDEXED]) return receiver.get(index);
    return Reflect.get(target, key, receiver);
  },
  set(target, key, value, receiver: Indexed) {
    const index = numericKey(key);
    if (index !== undefined && receiver[INDEXED]) {
      receiver.set(index, value);
      return true;
    }
    return Reflect.set(target, key, value, receiver);
  },
};

/** The root classes whose prototype already sits on the trap. */
const trapped = new WeakSet<object>();

/**
 * Gives the instances of `type` integer-keyed access through their `get` and `set`. `base` is the root class
 * of `type`'s hierarchy: the trap goes below its prototype (once, whichever classes are indexed).
 */
export function addIndexing(base: { prototype: object }, type: { prototype: Indexed }): void {
  const bottom: object | null = Object.getPrototypeOf(base.prototype);
  if (!trapped.has(base)) {
    Object.setPrototypeOf(base.prototype, new Proxy(bottom ?? Object.prototype, handler));
    trapped.add(base);
  }
  Object.defineProperty(type.prototype, INDEXED, { value: true });
}
