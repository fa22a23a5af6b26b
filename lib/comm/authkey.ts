/**
 * The authkey handshake of Python's `multiprocessing.connection`: each side proves to the other that it
 * knows the key by answering a random challenge with an HMAC of it, without sending the key.
 *
 * Both protocol generations are spoken. Python ≤ 3.11 sends a bare 20-byte challenge and expects a bare
 * 16-byte HMAC-MD5; Python ≥ 3.12 sends `{sha256}` + 40 random bytes and expects `{sha256}` + HMAC-SHA256
 * (and accepts a bare HMAC-MD5 from older peers). Challenges sent from here are the modern kind, which older
 * peers answer with HMAC-MD5 — accepted, as Python ≥ 3.12 accepts it.
 *
 * A handshake is written once, as a generator that yields whenever it needs the peer's next message, and
 * driven by {@link runHandshake} (async) or {@link runHandshakeSync}.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

import type { AsyncWaitOptions, SyncWaitOptions } from '../internal/wait.js';
import type { Connection } from './connection.js';

const CHALLENGE = Buffer.from('#CHALLENGE#');
const WELCOME = Buffer.from('#WELCOME#');
const FAILURE = Buffer.from('#FAILURE#');
/** Random bytes in a challenge sent from here (Python's MESSAGE_LENGTH). */
const MESSAGE_LENGTH = 40;
/** A legacy challenge's length, and a legacy HMAC-MD5 answer's. */
const LEGACY_LENGTHS = [20, 16];
/** Python's names of the digests it allows, with OpenSSL's. */
const DIGESTS: ReadonlyMap<string, string> = new Map([
  ['md5', 'md5'],
  ['sha256', 'sha256'],
  ['sha384', 'sha384'],
  ['sha3_256', 'sha3-256'],
  ['sha3_384', 'sha3-384'],
]);
const MAX_DIGEST_NAME = 8;
/** Handshake messages longer than this are refused, as Python refuses them. */
export const MAX_HANDSHAKE_MESSAGE = 256;

/** The peer does not know the authkey, or does not speak the handshake (Python's `AuthenticationError`). */
export class AuthenticationError extends Error {
  /** Always `'ERR_MP_AUTHENTICATION'`. */
  readonly code = 'ERR_MP_AUTHENTICATION';

  constructor(message: string) {
    super(message);
    this.name = 'AuthenticationError';
  }
}

/** A handshake: yields when it needs the peer's next message, which it is then given. */
export type Handshake = Generator<void, void, Buffer>;

/** Splits a challenge or answer into its digest name ('' for the legacy HMAC-MD5 form) and payload. */
function digestAndPayload(message: Buffer): [string, Buffer] {
  if (LEGACY_LENGTHS.includes(message.length)) return ['', message];
  if (message[0] === 0x7b /* { */) {
    const curly = message.indexOf(0x7d /* } */, 1);
    if (curly > 0 && curly <= MAX_DIGEST_NAME + 1) {
      const name = message.toString('latin1', 1, curly);
      if (DIGESTS.has(name)) return [name, message.subarray(curly + 1)];
    }
  }
  throw new AuthenticationError('unsupported message length, missing digest prefix, or unsupported digest');
}

function hmac(digest: string, authkey: Buffer, message: Buffer): Buffer {
  return createHmac(DIGESTS.get(digest)!, authkey).update(message).digest();
}

/** The answer to a challenge: over the whole message, its digest prefix included. */
function answerTo(authkey: Buffer, message: Buffer): Buffer {
  const [digest] = digestAndPayload(message);
  if (digest === '') return hmac('md5', authkey, message);
  return Buffer.concat([Buffer.from(`{${digest}}`), hmac(digest, authkey, message)]);
}

function verify(authkey: Buffer, message: Buffer, answer: Buffer): void {
  const [digest, mac] = digestAndPayload(answer);
  const expected = hmac(digest || 'md5', authkey, message);
  if (expected.length !== mac.length || !timingSafeEqual(expected, mac)) {
    throw new AuthenticationError('digest received was wrong');
  }
}

/** Challenges the peer (Python's `deliver_challenge`): it must prove it knows `authkey`. */
export function* deliverChallenge(connection: Connection, authkey: Buffer): Handshake {
  const message = Buffer.concat([Buffer.from('{sha256}'), randomBytes(MESSAGE_LENGTH)]);
  connection.sendBytes(Buffer.concat([CHALLENGE, message]));
  const answer: Buffer = yield;
  try {
    verify(authkey, message, answer);
  } catch (error) {
    connection.sendBytes(FAILURE);
    throw error;
  }
  connection.sendBytes(WELCOME);
}

/** Answers the peer's challenge (Python's `answer_challenge`), proving this side knows `authkey`. */
export function* answerChallenge(connection: Connection, authkey: Buffer): Handshake {
  const challenge: Buffer = yield;
  if (!challenge.subarray(0, CHALLENGE.length).equals(CHALLENGE)) {
    throw new AuthenticationError('protocol error: expected a challenge (does the other side use an authkey?)');
  }
  const message = challenge.subarray(CHALLENGE.length);
  if (message.length < LEGACY_LENGTHS[0]!) throw new AuthenticationError(`challenge too short: ${message.length} bytes`);
  connection.sendBytes(answerTo(authkey, message));
  const verdict: Buffer = yield;
  if (!verdict.equals(WELCOME)) throw new AuthenticationError('digest sent was rejected (wrong authkey)');
}

/** Runs handshakes one after the other, receiving with `recvBytes`. */
export async function runHandshake(connection: Connection, steps: Handshake[], options: AsyncWaitOptions): Promise<void> {
  for (const handshake of steps) {
    for (let step = handshake.next(); !step.done; ) {
      step = handshake.next(await connection.recvBytes({ ...options, maxLength: MAX_HANDSHAKE_MESSAGE }));
    }
  }
}

/** The blocking form of {@link runHandshake}. */
export function runHandshakeSync(connection: Connection, steps: Handshake[], options: SyncWaitOptions): void {
  for (const handshake of steps) {
    for (let step = handshake.next(); !step.done; ) {
      step = handshake.next(connection.recvBytesSync({ ...options, maxLength: MAX_HANDSHAKE_MESSAGE }));
    }
  }
}
