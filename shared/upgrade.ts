// Answers on the socket of an HTTP/1.1 Upgrade request, which node:http hands over raw: the
// 101 that switches to the stream, or an ordinary error response with a Status body.
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';

export function acceptUpgrade(socket: Duplex, protocol: string): void {
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${protocol}\r\n\r\n`);
}

/** A complete HTTP response, then the connection ends. */
export function rawResponse(socket: Duplex, code: number, contentType: string, body: Buffer | string): void {
  const data = Buffer.isBuffer(body) ? body : Buffer.from(body);
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  socket.end(
    Buffer.concat([
      Buffer.from(
        `HTTP/1.1 ${code} ${STATUS_CODES[code] ?? 'Error'}\r\nContent-Type: ${contentType}\r\nContent-Length: ${data.length}\r\nConnection: close\r\n\r\n`,
      ),
      data,
    ]),
  );
}

/** A Kubernetes-style Status error instead of the switch. */
export function rejectUpgrade(socket: Duplex, code: number, reason: string, message: string): void {
  rawResponse(socket, code, 'application/json', JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason, message }));
}
