/**
 * A task's error on its way from a pool worker to the parent: structured clone keeps an Error's message and
 * stack and the built-in classes (TypeError, RangeError, ...) but drops `code`, other own properties and
 * the user's classes. Here the class travels by reference (an exported class, as reduction sends functions),
 * and the own properties that can be cloned travel beside it.
 */
import { serialize } from 'node:v8';

import { isLocator, locate } from '../comm/location.js';

/** An error as it travels (structured-cloneable, but for `cls`, which reduction sends by reference). */
export interface RemoteError {
  /** The value thrown, when it is not an Error (it travels as any value). */
  thrown?: unknown;
  name?: string;
  message?: string;
  stack?: string | undefined;
  /** The name of a built-in Error class (`globalThis[builtin]`). */
  builtin?: string;
  /** A class the parent can import. */
  cls?: Function;
  /** Own enumerable properties (`code`, ...) that structured clone can carry. */
  props?: Record<string, unknown>;
}

function isBuiltinError(cls: Function): boolean {
  return (globalThis as Record<string, unknown>)[cls.name] === cls && (cls === Error || cls.prototype instanceof Error);
}

/** Describes what a task threw, in the worker. @internal */
export function describeError(error: unknown): RemoteError {
  if (!(error instanceof Error)) {
    try {
      serialize(error);
      return { thrown: error };
    } catch {
      return { thrown: String(error) };
    }
  }
  const cls = error.constructor;
  const described: RemoteError = { name: error.name, message: error.message, stack: error.stack };
  if (typeof cls === 'function') {
    if (isBuiltinError(cls)) described.builtin = cls.name;
    else if (isLocator(locate(cls))) described.cls = cls;
  }
  const props: Record<string, unknown> = {};
  for (const key of Object.keys(error)) {
    const value = (error as unknown as Record<string, unknown>)[key];
    try {
      serialize(value);
      props[key] = value;
    } catch {
      // What cannot be cloned stays behind; the message and stack still say what happened.
    }
  }
  described.props = props;
  return described;
}

/** Rebuilds, in the parent, an error a worker described: same class, message, stack and properties. @internal */
export function reviveError(remote: RemoteError): unknown {
  if ('thrown' in remote) return remote.thrown;
  const builtin = remote.builtin === undefined ? undefined : (globalThis as Record<string, unknown>)[remote.builtin];
  const cls = (remote.cls ?? (typeof builtin === 'function' ? builtin : Error)) as { prototype: object };
  const error = Object.create(cls.prototype) as Error;
  const hidden = (value: unknown): PropertyDescriptor => ({ value, writable: true, configurable: true, enumerable: false });
  Object.defineProperty(error, 'message', hidden(remote.message ?? ''));
  Object.defineProperty(error, 'stack', hidden(remote.stack));
  if (remote.name !== undefined && error.name !== remote.name) Object.defineProperty(error, 'name', hidden(remote.name));
  Object.assign(error, remote.props);
  return error;
}
