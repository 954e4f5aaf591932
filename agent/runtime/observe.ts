// Pure mapping of `docker inspect` output to what the pod logic needs.
import type Docker from 'dockerode';
import type { EngineAddress } from './engine.js';
import { DOCKER_LABEL } from '../../shared/naming.js';
import type { ObservedContainer } from '../pods/types.js';

/** Docker times have nanoseconds and use year 1 for "never". */
export function dockerTime(s: string | undefined): number | undefined {
  if (!s || s.startsWith('0001-01-01')) return undefined;
  const ms = Date.parse(s);
  return Number.isFinite(ms) ? ms : undefined;
}

export function toObserved(info: Docker.ContainerInspectInfo): ObservedContainer {
  const labels = info.Config?.Labels ?? {};
  const networks = info.NetworkSettings?.Networks ?? {};
  const ip =
    Object.values(networks)
      .map((n) => n.IPAddress)
      .find((a) => !!a) ?? (info.NetworkSettings as { IPAddress?: string } | undefined)?.IPAddress;
  const running = info.State.Running || info.State.Paused || info.State.Restarting;
  const startedAtMs = dockerTime(info.State.StartedAt);
  const finishedAtMs = dockerTime(info.State.FinishedAt);
  return {
    id: info.Id,
    name: info.Name.replace(/^\//, ''),
    podUid: labels[DOCKER_LABEL.podUid] ?? '',
    podName: labels[DOCKER_LABEL.podName] ?? '',
    namespace: labels[DOCKER_LABEL.namespace] ?? '',
    container: labels[DOCKER_LABEL.container] ?? '',
    status: info.State.Status,
    running,
    exitCode: info.State.ExitCode,
    oomKilled: info.State.OOMKilled,
    ...(info.State.Error ? { error: info.State.Error } : {}),
    createdAtMs: dockerTime(info.Created) ?? 0,
    ...(startedAtMs !== undefined ? { startedAtMs } : {}),
    ...(finishedAtMs !== undefined ? { finishedAtMs } : {}),
    image: info.Config?.Image ?? '',
    imageID: info.Image,
    ...(running && ip ? { ip } : {}),
    ...(labels[DOCKER_LABEL.podIP] ? { podIp: labels[DOCKER_LABEL.podIP] } : {}),
    networkMode: info.HostConfig?.NetworkMode ?? '',
  };
}

/** `unix:///path`, `/path`, `tcp://host:port`, `http(s)://host:port`; empty means the default socket. */
export function dockerConnection(dockerHost: string | undefined): EngineAddress {
  const h = (dockerHost ?? '').trim();
  if (h === '') return { socketPath: '/var/run/docker.sock' };
  if (h.startsWith('unix://')) return { socketPath: h.slice('unix://'.length) };
  if (h.startsWith('/')) return { socketPath: h };
  const m = /^(tcp|http|https):\/\/([^:/]+|\[[^\]]+\])(?::(\d+))?\/?$/.exec(h);
  if (!m) throw new Error(`unsupported Docker host "${dockerHost}" (use unix:///path or tcp://host:port)`);
  const protocol = m[1] === 'https' ? 'https' : 'http';
  return { protocol, host: m[2].replace(/^\[|\]$/g, ''), port: Number(m[3] ?? (protocol === 'https' ? 2376 : 2375)) };
}
