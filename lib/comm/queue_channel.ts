/**
 * The descriptor channel of an anonymous queue: a SOCK_SEQPACKET socket pair created with the queue and
 * passed along with it, on which the descriptors an item carries (the memory of anonymous shared objects,
 * Connections' sockets) travel, since a ring in shared memory cannot carry descriptors. Every handle of the
 * queue holds both ends (dups of the same two sockets), so any process's put reaches any process's get.
 *
 * Order and crash safety come from the queue's locks and a token:
 * - A put holding put_lock, once the ring has room for the item's first frame, stores the next token in
 *   pmp_queue.passed (before sending, so no token is ever sent twice), sends one datagram — the token and the
 *   descriptors — and then writes the frame, which carries the token too. Datagram order is ring order.
 * - A get holding get_lock, after committing the read of such a frame, receives datagrams until the one with
 *   its token: older ones are orphans (their producer died before committing the frame, or their consumer
 *   died between committing the read and receiving), whose descriptors it closes.
 * - The socket buffer is bounded: a put that finds it full waits as for a full ring (gets drain it).
 */
import { endianness } from 'node:os';

import { mpError, type CodedError } from '../internal/errors.js';
import { LAYOUT } from '../internal/layout.js';
import { binding } from '../internal/native.js';
import { registerTransfer } from './reduction.js';

/** Bytes of a token (a uint32 in native byte order), the whole of a datagram's data. */
export const TOKEN_BYTES = 4;
/** pmp_queue.passed, as an Int32 index of the control block. */
const PASSED = LAYOUT.pmp_queue.passed / 4;
const LITTLE_ENDIAN = endianness() === 'LE';

function isAgain(error: unknown): boolean {
  return (error as CodedError).code === 'EAGAIN';
}

function missing(): Error {
  return mpError('ERR_MP_PROTOCOL', "the descriptors of a queue item are not on the queue's socket pair");
}

/** The receiving socket, as it travels in a queue's description (the sending one is its `descriptor`). */
export class ChannelEnd {
  constructor(readonly fd: number) {}

  static {
    registerTransfer<ChannelEnd>({
      kind: 'QueueChannelEnd',
      type: ChannelEnd,
      describe: (end) => ({ name: 'queue-channel', descriptor: end.fd }),
      revive: (d) => new ChannelEnd(d.descriptor!),
    });
  }
}

/** One handle's two sockets of a queue's channel (see the module comment). */
export class Channel {
  constructor(
    readonly sendFd: number,
    readonly receiveFd: number,
  ) {}

  /** A new channel, for a new anonymous queue. */
  static create(): Channel {
    const [sendFd, receiveFd] = binding.socketPair();
    binding.setNonBlocking(sendFd);
    binding.setNonBlocking(receiveFd);
    return new Channel(sendFd, receiveFd);
  }

  /**
   * Holding put_lock: writes the next token into `token` (the frame's first bytes) and sends it with `fds`.
   * False if the socket is full: wait for gets, as for a full ring.
   */
  send(control: Int32Array, token: Uint8Array, fds: number[]): boolean {
    const next = (Atomics.load(control, PASSED) + 1) | 0;
    Atomics.store(control, PASSED, next);
    new DataView(token.buffer, token.byteOffset, TOKEN_BYTES).setUint32(0, next >>> 0, LITTLE_ENDIAN);
    try {
      binding.sendMessage(this.sendFd, token.subarray(0, TOKEN_BYTES), fds);
    } catch (error) {
      if (isAgain(error)) return false;
      throw error;
    }
    return true;
  }

  /** Holding get_lock, the read of the frame with `token` committed: the descriptors sent with it. */
  receive(token: number): number[] {
    for (;;) {
      let message: { bytes: Buffer; fds: number[] } | null;
      try {
        message = binding.receiveMessage(this.receiveFd, TOKEN_BYTES);
      } catch (error) {
        throw isAgain(error) ? missing() : error;
      }
      if (message === null || message.bytes.length !== TOKEN_BYTES) throw missing();
      const sent = tokenOf(message.bytes);
      const behind = (sent - token) | 0;
      if (behind === 0) return message.fds;
      for (const fd of message.fds) binding.closeFd(fd);
      // A datagram after this item's: this item's was never sent, which a put's order rules out.
      if (behind > 0) throw missing();
    }
  }

  /** Closes this handle's sockets (the channel lives on in other handles). */
  close(): void {
    binding.closeFd(this.sendFd);
    binding.closeFd(this.receiveFd);
  }
}

/** The token at the start of a PASSED frame's bytes. */
export function tokenOf(bytes: Uint8Array): number {
  return new DataView(bytes.buffer, bytes.byteOffset, TOKEN_BYTES).getUint32(0, LITTLE_ENDIAN);
}
