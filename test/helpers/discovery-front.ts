// A loopback front for kubectl (a `kubectl proxy` of sorts) before the controller serves API discovery (/api, /apis,
// /api/v1): it passes every request and every Upgrade through to the controller untouched and
// answers only the discovery paths the controller answers 404 for, with the core group's pods
// (and their exec, attach and portforward subresources). kubectl needs discovery before it
// execs; what is under test (the pod GET and the streams) is the controller's own answer.
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import net from 'node:net';

const DISCOVERY: Record<string, unknown> = {
  '/api': { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: '127.0.0.1' }] },
  '/apis': { kind: 'APIGroupList', apiVersion: 'v1', groups: [] },
  '/api/v1': {
    kind: 'APIResourceList',
    groupVersion: 'v1',
    resources: [
      { name: 'pods', singularName: 'pod', namespaced: true, kind: 'Pod', verbs: ['get', 'list', 'watch'], shortNames: ['po'] },
      { name: 'pods/exec', singularName: '', namespaced: true, kind: 'PodExecOptions', verbs: ['create', 'get'] },
      { name: 'pods/attach', singularName: '', namespaced: true, kind: 'PodAttachOptions', verbs: ['create', 'get'] },
      { name: 'pods/portforward', singularName: '', namespaced: true, kind: 'PodPortForwardOptions', verbs: ['create', 'get'] },
      { name: 'pods/log', singularName: '', namespaced: true, kind: 'Pod', verbs: ['get'] },
    ],
  },
};

export interface DiscoveryFront {
  /** http://127.0.0.1:PORT, for kubectl's --server. */
  url: string;
  close(): Promise<void>;
}

/** Like `kubectl proxy`, the front adds the token (client-go sends none over plain http). */
export async function startDiscoveryFront(controller: string, ca: string, token: string): Promise<DiscoveryFront> {
  const target = new URL(controller);
  const secure = target.protocol === 'https:';
  const sockets = new Set<Duplex>();
  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://front').pathname;
    const up = (secure ? https : http).request(
      {
        host: target.hostname,
        port: target.port,
        path: req.url,
        method: req.method,
        headers: { ...req.headers, host: target.host, authorization: `Bearer ${token}` },
        ...(secure ? { ca } : {}),
      },
      (r) => {
        if (r.statusCode === 404 && req.method === 'GET' && path in DISCOVERY) {
          r.resume();
          const body = JSON.stringify(DISCOVERY[path]);
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(body);
          return;
        }
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      },
    );
    up.on('error', (err) => {
      res.writeHead(502);
      res.end(err.message);
    });
    req.pipe(up);
  });
  server.on('upgrade', (req: http.IncomingMessage, client: Duplex, head: Buffer) => {
    sockets.add(client);
    const port = Number(target.port);
    const upstream: Duplex = secure
      ? tls.connect({ host: target.hostname, port, ca, ...(net.isIP(target.hostname) ? {} : { servername: target.hostname }) })
      : net.connect(port, target.hostname);
    sockets.add(upstream);
    const lines = [`${req.method} ${req.url} HTTP/1.1`];
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      const name = req.rawHeaders[i].toLowerCase();
      if (name === 'authorization') continue;
      lines.push(`${req.rawHeaders[i]}: ${name === 'host' ? target.host : req.rawHeaders[i + 1]}`);
    }
    lines.push(`Authorization: Bearer ${token}`);
    upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
    if (head.length > 0) upstream.write(head);
    client.pipe(upstream);
    upstream.pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end);
    upstream.on('error', end);
    client.on('close', end);
    upstream.on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
