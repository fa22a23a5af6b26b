/**
 * Namespace: Python's `manager.Namespace()`, an object whose properties live in a SharedDict: reading `ns.x`
 * reads the dict, `ns.x = 1` writes it (seen at once by every process), `delete ns.x` deletes, and
 * `Object.keys(ns)`, `'x' in ns` and spreading see the dict's keys. It is a Proxy over a small target that
 * knows its dict; it travels to children as that dict.
 */
import { inspect, type InspectOptions } from 'node:util';

import { invalidArgType } from '../internal/errors.js';
import { registerTransfer } from '../comm/reduction.js';
import { SharedDict } from './shared_dict.js';

/** The dict behind each namespace, by target and by proxy. */
const dicts = new WeakMap<object, SharedDict>();

/** The target of a namespace's Proxy: its class is what reduction.ts recognises, and what console.log shows. */
class NamespaceTarget {
  [inspect.custom](_depth: number, options: InspectOptions): string {
    const dict = dicts.get(this)!;
    return `Namespace ${dict.closed ? '<closed>' : inspect(dict.toObject(), options)}`;
  }
}

Object.defineProperty(NamespaceTarget, 'name', { value: 'Namespace' });

const handler: ProxyHandler<NamespaceTarget> = {
  get(target, key) {
    if (typeof key === 'symbol') return (target as unknown as Record<symbol, unknown>)[key];
    return dicts.get(target)!.get(key);
  },
  set(target, key, value) {
    if (typeof key === 'symbol') return false;
    dicts.get(target)!.set(key, value);
    return true;
  },
  has(target, key) {
    return typeof key === 'string' && dicts.get(target)!.has(key);
  },
  deleteProperty(target, key) {
    if (typeof key === 'string') dicts.get(target)!.delete(key);
    return true;
  },
  ownKeys(target) {
    return dicts.get(target)!.keys().map(String);
  },
  getOwnPropertyDescriptor(target, key) {
    if (typeof key !== 'string') return undefined;
    const dict = dicts.get(target)!;
    if (!dict.has(key)) return undefined;
    return { value: dict.get(key), writable: true, enumerable: true, configurable: true };
  },
  defineProperty(target, key, descriptor) {
    if (typeof key === 'symbol' || !('value' in descriptor)) return false;
    dicts.get(target)!.set(key, descriptor.value);
    return true;
  },
};

/**
 * A namespace over `dict` (Python's `Namespace` proxy): its properties read and write the dict's string keys.
 * @internal Made by `Manager.Namespace()`.
 */
export function namespaceOver(dict: SharedDict): Record<string, unknown> {
  const target = new NamespaceTarget();
  const namespace = new Proxy(target, handler);
  dicts.set(target, dict);
  dicts.set(namespace, dict);
  return namespace as unknown as Record<string, unknown>;
}

/** The SharedDict behind a namespace made by `Manager.Namespace()`, e.g. to close or unlink it. */
export function namespaceDict(namespace: object): SharedDict {
  const dict = dicts.get(namespace);
  if (!dict) throw invalidArgType('namespace', 'a Namespace made by Manager.Namespace()', namespace);
  return dict;
}

// Passing to child processes (reduction.ts): as the dict behind it, which arrives as a namespace again.
registerTransfer<NamespaceTarget>({
  kind: 'Namespace',
  type: NamespaceTarget,
  describe: (namespace) => ({ name: '', params: namespaceDict(namespace) }),
  revive: (d) => namespaceOver(d.params as SharedDict) as unknown as NamespaceTarget,
});
