// Pipe benchmark partner, started as a Process target with one end of a Pipe: answers each message until
// EOF — small ones with the same message, large ones (over 1 KiB) with a 2-byte acknowledgement — using the
// Sync forms, the fastest way to answer.
const LARGE = 1024;

function isEof(error) {
  return error?.code === 'ERR_MP_EOF';
}

/** Raw bytes (recvBytesSync/sendBytes), as Python's recv_bytes/send_bytes. */
export function echoBytes(conn) {
  const ack = Buffer.from('ok');
  try {
    for (;;) {
      const message = conn.recvBytesSync();
      conn.sendBytes(message.length > LARGE ? ack : message);
    }
  } catch (error) {
    if (!isEof(error)) throw error;
  }
  conn.close();
}

/** Objects (recvSync/send), as Python's recv/send. */
export function echoObjects(conn) {
  try {
    for (;;) {
      const message = conn.recvSync();
      conn.send(message.length > LARGE ? 'ok' : message);
    }
  } catch (error) {
    if (!isEof(error)) throw error;
  }
  conn.close();
}
