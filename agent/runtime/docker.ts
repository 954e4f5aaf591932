// Thin adapter over the Docker Engine API (engine.ts): every call the agent makes to the engine,
// with Docker's "not an error" answers (304 on stop/start, 404 on remove) folded in.
import type { Duplex } from 'node:stream';
import type Docker from 'dockerode';
import { Engine, followJsonLines, repositoryTag } from './engine.js';
import { DOCKER_LABEL } from '../../shared/naming.js';
import type { ObservedContainer } from '../pods/types.js';
import { Demuxer } from './demux.js';
import type { ContainerRuntime, FrameSink } from './runtime.js';
import { imagePullBytes, imagePulls } from '../metrics/agent-metrics.js';
import { PullProgressTracker, type PullProgress, type PullSummary } from '../metrics/pull-progress.js';
import { sleep } from '../../shared/async.js';
import { dockerConnection, toObserved } from './observe.js';

export interface DockerEvent {
  Type: string;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  time: number;
  timeNano: number;
}

export function statusCode(err: unknown): number | undefined {
  return (err as { statusCode?: number })?.statusCode;
}

/** An attached exec (DockerRuntime.execAttach). */
export interface AttachedExec {
  stream: Duplex;
  resize(size: { width: number; height: number }): Promise<void>;
  /** The command's exit code; undefined while it runs (or when the engine has none). */
  exitCode(): Promise<number | undefined>;
}

export class DockerRuntime implements ContainerRuntime {
  /** Calls with a bounded duration. */
  readonly engine: Engine;
  /** No timeout: a quiet stream (logs, events, a pull) or a long stop is not a dead engine. */
  readonly streams: Engine;

  constructor(dockerHost: string, timeoutMs = 60_000) {
    const conn = dockerConnection(dockerHost);
    this.engine = new Engine(conn, timeoutMs);
    this.streams = new Engine(conn);
  }

  /** Rejects when the engine does not answer within `timeoutMs`. */
  async ping(timeoutMs: number): Promise<void> {
    const signal = AbortSignal.timeout(timeoutMs);
    const ping = this.engine.json('GET', '/_ping', { signal });
    ping.catch(() => undefined);
    await Promise.race([
      ping,
      new Promise((_, reject) => signal.addEventListener('abort', () => reject(new Error(`no answer within ${timeoutMs} ms`)), { once: true })),
    ]);
  }

  async version(): Promise<string> {
    const v = await this.engine.json<{ Version: string }>('GET', '/version');
    return v.Version;
  }

  /** `docker network inspect`; rejects with statusCode 404 when there is none. */
  inspectNetwork(network: string): Promise<Record<string, unknown>> {
    return this.engine.json('GET', `/networks/${encodeURIComponent(network)}`);
  }

  createNetwork(options: Record<string, unknown>): Promise<{ Id: string }> {
    return this.engine.json('POST', '/networks/create', { body: options });
  }

  async removeNetwork(id: string): Promise<void> {
    await this.engine.json('DELETE', `/networks/${encodeURIComponent(id)}`);
  }

  /** `docker inspect` of a container, as the engine gives it; rejects with statusCode 404 when there is none. */
  inspectContainer(id: string): Promise<Docker.ContainerInspectInfo> {
    return this.engine.json('GET', `/containers/${encodeURIComponent(id)}/json`);
  }

  labelFilter(nodeName: string, extra: Record<string, string> = {}): string[] {
    return [`${DOCKER_LABEL.managed}=true`, `${DOCKER_LABEL.node}=${nodeName}`, ...Object.entries(extra).map(([k, v]) => `${k}=${v}`)];
  }

  /** This node's managed containers, optionally narrowed by more labels. */
  listManaged(nodeName: string, extra: Record<string, string> = {}): Promise<Docker.ContainerInfo[]> {
    return this.engine.json('GET', '/containers/json', { query: { all: true, filters: { label: this.labelFilter(nodeName, extra) } } });
  }

  listLabelled(label: string): Promise<Docker.ContainerInfo[]> {
    return this.engine.json('GET', '/containers/json', { query: { all: true, filters: { label: [label] } } });
  }

  async networkAddresses(network: string): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    try {
      const info = (await this.inspectNetwork(network)) as { Containers?: Record<string, { IPv4Address?: string }> };
      for (const [id, c] of Object.entries(info.Containers ?? {})) {
        const ip = c.IPv4Address?.split('/')[0];
        if (ip) out.set(id, ip);
      }
    } catch (err) {
      if (statusCode(err) !== 404) throw err;
    }
    return out;
  }

  async inspect(id: string): Promise<ObservedContainer | undefined> {
    try {
      return toObserved(await this.inspectContainer(id));
    } catch (err) {
      if (statusCode(err) === 404) return undefined;
      throw err;
    }
  }

  /** Inspects every managed container of this node (or of one pod). */
  async observe(nodeName: string, podUid?: string): Promise<ObservedContainer[]> {
    const list = await this.listManaged(nodeName, podUid ? { [DOCKER_LABEL.podUid]: podUid } : {});
    const out = await Promise.all(list.map((c) => this.inspect(c.Id)));
    return out.filter((o): o is ObservedContainer => o !== undefined);
  }

  async imageExists(image: string): Promise<boolean> {
    try {
      await this.engine.json('GET', `/images/${encodeURIComponent(image)}/json`);
      return true;
    } catch (err) {
      if (statusCode(err) === 404) return false;
      throw err;
    }
  }

  /** The image's labels ({} when it has none); undefined when no image has this name. */
  async imageLabels(image: string): Promise<Record<string, string> | undefined> {
    try {
      const info = await this.engine.json<Docker.ImageInspectInfo>('GET', `/images/${encodeURIComponent(image)}/json`);
      return info.Config?.Labels ?? {};
    } catch (err) {
      if (statusCode(err) === 404) return undefined;
      throw err;
    }
  }

  /** `docker import`: an image from a root file system tarball, with Dockerfile `changes`. */
  async importImage(tar: Buffer, tag: string, changes: string[]): Promise<void> {
    const [repo, version] = tag.split(/:(?=[^:/]+$)/);
    const stream = await this.streams.stream('POST', '/images/create', {
      query: { fromSrc: '-', repo, tag: version ?? 'latest', changes },
      body: tar,
      contentType: 'application/tar',
    });
    const output = await followJsonLines(stream);
    const failed = output.find((e) => (e as { error?: string })?.error) as { error: string } | undefined;
    if (failed) throw new Error(failed.error);
  }

  /** Pulls an image; resolves when it is there, rejects with the registry's error. */
  async pull(image: string, onProgress?: (p: PullProgress, summary: PullSummary) => void): Promise<void> {
    const tracker = new PullProgressTracker();
    try {
      const { repository, tag } = repositoryTag(image);
      const stream = await this.streams.stream('POST', '/images/create', { query: { fromImage: repository, tag: tag ?? 'latest' } });
      const output = await followJsonLines(stream, (o) => {
        const p = o as PullProgress;
        imagePullBytes.inc({}, tracker.add(p));
        onProgress?.(p, tracker.summary());
      });
      // followProgress reports failures as output entries, not as err.
      const failed = output.find((e) => (e as { error?: string })?.error) as { error: string } | undefined;
      if (failed) throw new Error(failed.error);
      if (!(await this.imageExists(image))) throw new Error(`image ${image} is not present after the pull`);
      imagePulls.inc({ result: 'success' });
    } catch (err) {
      imagePulls.inc({ result: 'failure' });
      throw err;
    }
  }

  async create(options: Docker.ContainerCreateOptions): Promise<string> {
    const c = await this.engine.json<{ Id: string }>('POST', '/containers/create', {
      query: { name: options.name, platform: (options as { platform?: string }).platform },
      body: options,
    });
    return c.Id;
  }

  async start(id: string): Promise<void> {
    try {
      await this.engine.json('POST', `/containers/${encodeURIComponent(id)}/start`);
    } catch (err) {
      if (statusCode(err) !== 304) throw err;
    }
  }

  /** SIGTERM, then SIGKILL after `t` seconds (the container's StopTimeout when undefined). */
  async stop(id: string, t?: number): Promise<void> {
    try {
      await this.streams.json('POST', `/containers/${encodeURIComponent(id)}/stop`, { query: { t } });
    } catch (err) {
      const code = statusCode(err);
      if (code !== 304 && code !== 404) throw err;
    }
  }

  async remove(id: string): Promise<void> {
    try {
      await this.engine.json('DELETE', `/containers/${encodeURIComponent(id)}`, { query: { force: true } });
    } catch (err) {
      const code = statusCode(err);
      // 409: a removal is already in progress.
      if (code !== 404 && !(code === 409 && /already in progress/.test(String((err as Error).message)))) throw err;
    }
  }

  /** Runs a command in a running container; resolves with its exit code. */
  async exec(id: string, cmd: string[], sink: FrameSink, signal?: AbortSignal): Promise<number> {
    signal?.throwIfAborted();
    const ex = await this.streams.json<{ Id: string }>('POST', `/containers/${encodeURIComponent(id)}/exec`, {
      body: { Cmd: cmd, AttachStdout: true, AttachStderr: true, AttachStdin: false, Tty: false },
    });
    const stream = (await this.streams.hijack('POST', `/exec/${ex.Id}/start`, { body: { Detach: false, Tty: false } })) as Duplex;
    await pumpFrames(stream, sink, signal);
    signal?.throwIfAborted();
    const info = await this.streams.json<{ ExitCode?: number | null }>('GET', `/exec/${ex.Id}/json`);
    return info.ExitCode ?? -1;
  }

  /**
   * Creates an exec with stdin and/or a TTY and attaches to it: `stream` is the engine's hijacked
   * connection (write: the command's stdin, end(): closes it; read: its output, multiplexed
   * unless `tty`). Creating fails on a container that is not running.
   */
  async execAttach(id: string, cmd: string[], opts: { stdin: boolean; tty: boolean }): Promise<AttachedExec> {
    const ex = await this.engine.json<{ Id: string }>('POST', `/containers/${encodeURIComponent(id)}/exec`, {
      body: { Cmd: cmd, AttachStdin: opts.stdin, AttachStdout: true, AttachStderr: true, Tty: opts.tty },
    });
    // The stream outlives docker's request timeout, so it comes from the client without one.
    const stream = await this.streams.hijack('POST', `/exec/${ex.Id}/start`, { body: { Detach: false, Tty: opts.tty } });
    return {
      stream,
      resize: async (s) => {
        await this.engine.json('POST', `/exec/${ex.Id}/resize`, { query: { w: s.width, h: s.height } });
      },
      exitCode: async () => {
        const info = await this.engine.json<{ Running?: boolean; ExitCode?: number | null }>('GET', `/exec/${ex.Id}/json`);
        return info.Running ? undefined : (info.ExitCode ?? undefined);
      },
    };
  }

  /**
   * Attaches to a container's main process (docker attach): its stdin when asked (and the
   * container keeps stdin open), its output from now on; a raw stream when the container has a
   * terminal (`tty`), else multiplexed. exitCode is always undefined: the process is not ours.
   */
  async attach(id: string, opts: { stdin: boolean }): Promise<AttachedExec & { tty: boolean; stdinOnce: boolean }> {
    const info = await this.inspectContainer(id);
    const tty = info.Config?.Tty === true;
    const stdin = opts.stdin && info.Config?.OpenStdin === true;
    const stream = await this.streams.hijack('POST', `/containers/${encodeURIComponent(id)}/attach`, {
      query: { stream: true, stdin, stdout: true, stderr: true },
    });
    // The process may have ended between the caller's look and the attach, and the engine's
    // attach to a stopped container never ends. Refused as the kubelet refuses it ("container not
    // running"), so that a client falls back to the log (kubectl run -i does).
    const now = await this.inspectContainer(id);
    if (now.State?.Running !== true) {
      stream.destroy();
      throw Object.assign(new Error(`container ${id.slice(0, 12)} is not running`), { statusCode: 409 });
    }
    return {
      stream,
      tty,
      stdinOnce: info.Config?.StdinOnce === true,
      resize: async (s) => {
        if (tty) await this.engine.json('POST', `/containers/${encodeURIComponent(id)}/resize`, { query: { w: s.width, h: s.height } });
      },
      exitCode: async () => undefined,
    };
  }

  /**
   * Writes a container's log; with follow, until the container stops or the signal aborts.
   * since and until (epoch ms): only lines the engine received in [since, until).
   */
  async logs(
    id: string,
    opts: { follow: boolean; tail?: number; timestamps: boolean; since?: number; until?: number },
    sink: FrameSink,
    signal?: AbortSignal,
  ): Promise<void> {
    const path = `/containers/${encodeURIComponent(id)}/logs`;
    const base = {
      stdout: true,
      stderr: true,
      timestamps: opts.timestamps,
      ...(opts.tail !== undefined ? { tail: opts.tail } : {}),
      ...(opts.since !== undefined ? { since: engineTime(opts.since) } : {}),
      ...(opts.until !== undefined ? { until: engineTime(opts.until) } : {}),
    };
    // A container with a terminal logs one raw stream, not stdout and stderr multiplexed.
    const tty = (await this.inspectContainer(id)).Config?.Tty === true;
    const stream = await this.streams.stream('GET', path, { query: { ...base, follow: opts.follow } });
    await pumpFrames(stream, sink, signal, tty);
  }

  /**
   * Follows container events for this node's managed containers until the signal aborts,
   * reconnecting after errors (the stream ends when dockerd restarts). onConnect runs after
   * every (re)connect, when events may have been missed, so the caller resyncs.
   */
  async followEvents(
    nodeName: string,
    onEvent: (e: DockerEvent) => void,
    onConnect: () => void,
    onError: (err: unknown) => void,
    signal: AbortSignal,
  ): Promise<void> {
    let lastNano = 0;
    while (!signal.aborted) {
      try {
        const query = {
          filters: {
            type: ['container'],
            label: this.labelFilter(nodeName),
            event: ['create', 'start', 'die', 'oom', 'kill', 'stop', 'destroy', 'restart', 'pause', 'unpause'],
          },
          ...(lastNano ? { since: Number((lastNano / 1e9).toFixed(9)) } : {}),
        };
        const s = await this.streams.stream('GET', '/events', { query });
        onConnect();
        let buf = '';
        await new Promise<void>((done) => {
          const abort = () => s.destroy();
          signal.addEventListener('abort', abort, { once: true });
          const finish = () => {
            signal.removeEventListener('abort', abort);
            done();
          };
          s.on('data', (chunk: Buffer | string) => {
            buf += chunk.toString();
            let i: number;
            while ((i = buf.indexOf('\n')) >= 0) {
              const line = buf.slice(0, i).trim();
              buf = buf.slice(i + 1);
              if (!line) continue;
              let e: DockerEvent;
              try {
                e = JSON.parse(line) as DockerEvent;
              } catch {
                continue;
              }
              // The replay after a reconnect starts at `since`: skip what was seen.
              if (e.timeNano <= lastNano) continue;
              lastNano = e.timeNano;
              onEvent(e);
            }
          });
          s.once('end', finish);
          s.once('close', finish);
          s.once('error', (err) => {
            onError(err);
            finish();
          });
        });
      } catch (err) {
        if (!signal.aborted) onError(err);
      }
      if (!signal.aborted) await sleep(1000, signal);
    }
  }
}

/** Epoch ms as the engine's log API takes a time: Unix seconds with a fraction ("1700000000.123"). */
export function engineTime(ms: number): string {
  const t = Math.max(0, Math.floor(ms));
  return `${Math.floor(t / 1000)}.${String(t % 1000).padStart(3, '0')}`;
}

/** Splits the engine's output: multiplexed, or (a container with a terminal) all of it stdout. */
function splitter(tty: boolean, sink: FrameSink): { push(chunk: Buffer): void; end(): void } {
  if (!tty) return new Demuxer(sink);
  return { push: (chunk) => sink('stdout', chunk), end: () => undefined };
}

async function pumpFrames(stream: NodeJS.ReadableStream & { destroy(): void }, sink: FrameSink, signal?: AbortSignal, tty = false): Promise<void> {
  const d = splitter(tty, sink);
  await new Promise<void>((resolve, reject) => {
    let settled = false;
    const abort = () => {
      stream.destroy();
      finish();
    };
    const finish = (err?: unknown) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', abort);
      d.end();
      if (err) reject(err);
      else resolve();
    };
    if (signal?.aborted) return abort();
    signal?.addEventListener('abort', abort, { once: true });
    stream.on('data', (chunk: Buffer) => d.push(chunk));
    stream.once('end', () => finish());
    stream.once('close', () => finish());
    stream.once('error', (err) => finish(err));
  });
}
