/**
 * posix-mp: Python's multiprocessing for Node.js, on real POSIX objects that any process — Node, C or
 * Python — can open by name.
 * @packageDocumentation
 */
export * as atomics from './atomics.js';
export type { WaitResult } from './atomics.js';
export type { CodedError } from './errors.js';
export { Lock, RLock } from './lock.js';
export type { NameOptions } from './names.js';
export { BoundedSemaphore, SEM_VALUE_MAX, Semaphore } from './semaphore.js';
export { SharedMemory, type SharedMemoryOptions } from './shared_memory.js';
export type { AsyncWaitOptions, SyncWaitOptions } from './wait.js';
