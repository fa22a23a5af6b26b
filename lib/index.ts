/**
 * posix-mp: Python's multiprocessing for Node.js, on real POSIX objects that any process — Node, C or
 * Python — can open by name.
 * @packageDocumentation
 */
export * as atomics from './atomics.js';
export type { WaitResult } from './atomics.js';
export { Barrier, BrokenBarrierError, type BarrierBehaviour, type BarrierOptions } from './barrier.js';
export { Condition } from './condition.js';
export type { CodedError } from './errors.js';
export { Event } from './event.js';
export { Lock, RLock } from './lock.js';
export type { NameOptions } from './names.js';
export * as posix from './posix.js';
export {
  activeChildren,
  cpuCount,
  currentProcess,
  isMainProcess,
  parentProcess,
  Process,
  type ProcessOptions,
  type Target,
} from './process.js';
export { getPreparedInterpreters, setPreparedInterpreters } from './prepared.js';
export { BoundedSemaphore, SEM_VALUE_MAX, Semaphore } from './semaphore.js';
export { SharedArray as Array, RawArray, SharedArray, type SharedArrayConstructor } from './shared_array.js';
export { SharedMemory, type SharedMemoryOptions } from './shared_memory.js';
export type { OpenSharedDataOptions, SharedDataOptions } from './typed_storage.js';
export type { Element, ElementOf, InputOf, Typecode } from './typecodes.js';
export { RawValue, Value, type ValueConstructor } from './value.js';
export type { AsyncWaitOptions, SyncWaitOptions } from './wait.js';
