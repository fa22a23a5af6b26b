/**
 * posix-mp: Python's multiprocessing for Node.js, on real POSIX objects that any process — Node, C or
 * Python — can open by name.
 * @packageDocumentation
 */
export * as atomics from './shared/atomics.js';
export type { WaitResult } from './shared/atomics.js';
export { Barrier, BrokenBarrierError, type BarrierBehaviour, type BarrierOptions } from './sync/barrier.js';
export { Condition } from './sync/condition.js';
export type { CodedError, ErrorCode } from './internal/errors.js';
export { Event } from './sync/event.js';
export { Lock, RLock } from './sync/lock.js';
export type { NameOptions } from './shared/names.js';
export * as posix from './posix/posix.js';
export { activeChildren, Process, type JoinOptions, type ProcessOptions, type Target } from './process/process.js';
export { cpuCount, currentProcess, isMainProcess, parentProcess, type CurrentProcess } from './process/current.js';
export { getPreparedInterpreters, setPreparedInterpreters } from './process/prepared.js';
export { getAllStartMethods, getStartMethod, setStartMethod, type StartMethod } from './process/start_method.js';
export { setForkserverPreload } from './process/forkserver.js';
export { BoundedSemaphore, SEM_VALUE_MAX, Semaphore } from './sync/semaphore.js';
export { SharedArray as Array, RawArray, SharedArray, type SharedArrayConstructor } from './shared/shared_array.js';
export { SharedMemory, type SharedMemoryOptions } from './shared/shared_memory.js';
export type { OpenSharedDataOptions, SharedDataOptions } from './shared/typed_storage.js';
export type { Element, ElementOf, InputOf, Typecode } from './shared/typecodes.js';
export { RawValue, Value, type ValueConstructor } from './shared/value.js';
export type { AsyncWaitOptions, SyncWaitOptions } from './internal/wait.js';
export { Connection, type ConnectionOptions, type RecvBytesOptions } from './comm/connection.js';
export { Pipe } from './comm/pipe.js';
export type { Address, AuthOptions, TcpAddress } from './comm/address.js';
export { AuthenticationError } from './comm/authkey.js';
export { Client, type ClientOptions } from './comm/client.js';
export { Listener, type ListenerOptions } from './comm/listener.js';
export { Manager, type ManagedOptions } from './managers/manager.js';
export { namespaceDict } from './managers/namespace.js';
export { SharedDict, type DictKey, type DictUpdate } from './managers/shared_dict.js';
export { SharedList } from './managers/shared_list.js';
export { Pool, type PoolCallOptions, type PoolMapOptions, type PoolOptions } from './pool/pool.js';
export { Queue, type QueueOptions } from './comm/queue.js';
export { JoinableQueue } from './comm/joinable_queue.js';
export { SimpleQueue, type SimpleQueueOptions } from './comm/simple_queue.js';
export { Empty, Full } from './comm/queue_errors.js';
