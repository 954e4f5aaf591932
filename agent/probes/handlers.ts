// The three probe mechanisms: exec in the container, HTTP GET and TCP connect from the agent.
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { Container, Probe } from '../../shared/manifest/schema.js';
import type { ContainerRuntime } from '../runtime/runtime.js';
import type { ProbeOutcome } from './prober.js';

/** A probe port: a number, a numeric string, or the name of one of the container's ports. */
export function resolvePort(port: number | string, container: Pick<Container, 'ports'>): number | undefined {
  if (typeof port === 'number') return port;
  if (/^[0-9]+$/.test(port)) return Number(port);
  return container.ports?.find((p) => p.name === port)?.containerPort;
}

export async function execProbe(runtime: ContainerRuntime, containerId: string, command: string[], timeoutMs: number): Promise<ProbeOutcome> {
  let output = '';
  let code: number;
  try {
    code = await runtime.exec(
      containerId,
      command,
      (_kind, data) => {
        if (output.length < 1024) output += data.toString();
      },
      AbortSignal.timeout(timeoutMs),
    );
  } catch (err) {
    if ((err as Error).name === 'TimeoutError') return { ok: false, message: `command timed out after ${timeoutMs} ms` };
    return { ok: false, message: (err as Error).message };
  }
  return code === 0 ? { ok: true } : { ok: false, message: `exit code ${code}${output ? `: ${output.trim().slice(0, 200)}` : ''}` };
}

export function httpProbe(
  target: { scheme: 'HTTP' | 'HTTPS'; host: string; port: number; path: string; headers?: { name: string; value: string }[] },
  timeoutMs: number,
): Promise<ProbeOutcome> {
  return new Promise((resolve) => {
    const headers: Record<string, string> = { 'user-agent': 'kube-probe/berth', accept: '*/*' };
    for (const h of target.headers ?? []) headers[h.name.toLowerCase()] = h.value;
    const mod = target.scheme === 'HTTPS' ? https : http;
    const path = target.path.startsWith('/') ? target.path : `/${target.path}`;
    let done = false;
    const finish = (o: ProbeOutcome) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      req.destroy();
      resolve(o);
    };
    const req = mod.request(
      { host: target.host, port: target.port, path, method: 'GET', headers, agent: false, ...(target.scheme === 'HTTPS' ? { rejectUnauthorized: false } : {}) },
      (res) => {
        const code = res.statusCode ?? 0;
        res.resume();
        finish(code >= 200 && code < 400 ? { ok: true } : { ok: false, message: `HTTP probe failed with statuscode: ${code}` });
      },
    );
    const timer = setTimeout(() => finish({ ok: false, message: `HTTP probe timed out after ${timeoutMs} ms` }), timeoutMs);
    req.on('error', (err) => finish({ ok: false, message: err.message }));
    req.end();
  });
}

export function tcpProbe(host: string, port: number, timeoutMs: number): Promise<ProbeOutcome> {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    const finish = (o: ProbeOutcome) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(o);
    };
    const timer = setTimeout(() => finish({ ok: false, message: `dial tcp ${host}:${port}: timed out after ${timeoutMs} ms` }), timeoutMs);
    sock.once('connect', () => finish({ ok: true }));
    sock.once('error', (err) => finish({ ok: false, message: `dial tcp ${host}:${port}: ${err.message}` }));
  });
}

/** One run of a container's readiness probe against the pod's IP. */
export function runProbe(
  probe: Probe,
  container: Container,
  ctx: { runtime: ContainerRuntime; containerId: string; podIP?: string },
  timeoutMs: number,
): Promise<ProbeOutcome> {
  if (probe.exec) return execProbe(ctx.runtime, ctx.containerId, probe.exec.command, timeoutMs);
  if (probe.httpGet) {
    const port = resolvePort(probe.httpGet.port, container);
    if (port === undefined) return Promise.resolve({ ok: false, message: `unknown port "${probe.httpGet.port}"` });
    const host = probe.httpGet.host ?? ctx.podIP;
    if (!host) return Promise.resolve({ ok: false, message: 'the pod has no IP yet' });
    return httpProbe(
      {
        scheme: probe.httpGet.scheme ?? 'HTTP',
        host,
        port,
        path: probe.httpGet.path ?? '/',
        ...(probe.httpGet.httpHeaders ? { headers: probe.httpGet.httpHeaders } : {}),
      },
      timeoutMs,
    );
  }
  if (probe.tcpSocket) {
    const port = resolvePort(probe.tcpSocket.port, container);
    if (port === undefined) return Promise.resolve({ ok: false, message: `unknown port "${probe.tcpSocket.port}"` });
    const host = probe.tcpSocket.host ?? ctx.podIP;
    if (!host) return Promise.resolve({ ok: false, message: 'the pod has no IP yet' });
    return tcpProbe(host, port, timeoutMs);
  }
  return Promise.resolve({ ok: false, message: 'probe has no handler' });
}
