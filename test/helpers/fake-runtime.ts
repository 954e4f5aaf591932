// An in-memory container engine with the ContainerRuntime interface, for driving the pod
// manager and its workers without Docker. Containers keep their create options; what a started
// container does is decided by `behaviour` (keep running, or exit with a code at once).
import type Docker from 'dockerode';
import { DOCKER_LABEL } from '../../shared/naming.js';
import type { ObservedContainer } from '../../agent/pods/types.js';
import type { ContainerRuntime, FrameSink } from '../../agent/runtime/runtime.js';

export type Behaviour = { run: true } | { exit: number };

export interface FakeContainer {
  id: string;
  name: string;
  options: Docker.ContainerCreateOptions;
  labels: Record<string, string>;
  status: 'created' | 'running' | 'exited';
  exitCode: number;
  createdAtMs: number;
  startedAtMs?: number;
  finishedAtMs?: number;
  ip?: string;
}

export class FakeRuntime implements ContainerRuntime {
  readonly containers = new Map<string, FakeContainer>();
  readonly images = new Set<string>();
  /** Every call, in order, as `verb name` (e.g. `start berth_app_web-1_…`). */
  readonly calls: string[] = [];
  private next = 1;
  private clock = 0;
  /** Set: the engine does not answer, every call fails with this error (a stopped dockerd). */
  unreachable: string | undefined;

  constructor(
    images: string[] = [],
    /** What a container does once started, by its pod container name (the berth label). */
    readonly behaviour: (container: string) => Behaviour = () => ({ run: true }),
  ) {
    for (const i of images) this.images.add(i);
  }

  /** The wall clock (back-offs count from it), strictly increasing so start and exit order are clear. */
  private tick(): number {
    this.clock = Math.max(Date.now(), this.clock + 1);
    return this.clock;
  }

  private answer(): void {
    if (this.unreachable !== undefined) throw new Error(this.unreachable);
  }

  /** A dockerd restarted without live-restore: every running container was stopped. */
  stopAll(): void {
    for (const c of this.containers.values()) if (c.status === 'running') Object.assign(c, { status: 'exited', exitCode: 143, finishedAtMs: this.tick() });
  }

  /** The pod container name (berth label) of a container, for assertions. */
  byContainer(name: string): FakeContainer[] {
    return [...this.containers.values()].filter((c) => c.labels[DOCKER_LABEL.container] === name);
  }

  /** Ends a running container as a crash would. */
  exit(id: string, code: number): void {
    const c = this.containers.get(id);
    if (c?.status !== 'running') return;
    Object.assign(c, { status: 'exited', exitCode: code, finishedAtMs: this.tick() });
  }

  private info(c: FakeContainer): Docker.ContainerInfo {
    return {
      Id: c.id,
      Names: [`/${c.name}`],
      Labels: c.labels,
      State: c.status,
      HostConfig: { NetworkMode: c.options.HostConfig?.NetworkMode ?? 'bridge' },
    } as unknown as Docker.ContainerInfo;
  }

  async listManaged(nodeName: string, extra: Record<string, string> = {}): Promise<Docker.ContainerInfo[]> {
    this.answer();
    const want = { [DOCKER_LABEL.node]: nodeName, ...extra };
    return [...this.containers.values()].filter((c) => Object.entries(want).every(([k, v]) => c.labels[k] === v)).map((c) => this.info(c));
  }

  async listLabelled(label: string): Promise<Docker.ContainerInfo[]> {
    this.answer();
    return [...this.containers.values()].filter((c) => label in c.labels).map((c) => this.info(c));
  }

  async networkAddresses(): Promise<Map<string, string>> {
    this.answer();
    return new Map([...this.containers.values()].filter((c) => c.status === 'running' && c.ip).map((c) => [c.id, c.ip!]));
  }

  async inspect(id: string): Promise<ObservedContainer | undefined> {
    this.answer();
    const c = this.containers.get(id);
    if (!c) return undefined;
    const l = c.labels;
    return {
      id: c.id,
      name: c.name,
      podUid: l[DOCKER_LABEL.podUid] ?? '',
      podName: l[DOCKER_LABEL.podName] ?? '',
      namespace: l[DOCKER_LABEL.namespace] ?? '',
      container: l[DOCKER_LABEL.container] ?? '',
      status: c.status,
      running: c.status === 'running',
      exitCode: c.exitCode,
      oomKilled: false,
      createdAtMs: c.createdAtMs,
      ...(c.startedAtMs !== undefined ? { startedAtMs: c.startedAtMs } : {}),
      ...(c.finishedAtMs !== undefined ? { finishedAtMs: c.finishedAtMs } : {}),
      image: c.options.Image ?? '',
      imageID: `sha256:${c.options.Image ?? ''}`,
      ...(c.status === 'running' && c.ip ? { ip: c.ip } : {}),
      networkMode: c.options.HostConfig?.NetworkMode ?? 'bridge',
    };
  }

  async observe(nodeName: string, podUid?: string): Promise<ObservedContainer[]> {
    this.answer();
    const list = await this.listManaged(nodeName, podUid ? { [DOCKER_LABEL.podUid]: podUid } : {});
    return (await Promise.all(list.map((c) => this.inspect(c.Id)))).filter((o): o is ObservedContainer => o !== undefined);
  }

  async imageExists(image: string): Promise<boolean> {
    this.answer();
    return this.images.has(image);
  }

  async imageLabels(image: string): Promise<Record<string, string> | undefined> {
    this.answer();
    return this.images.has(image) ? {} : undefined;
  }

  async importImage(_tar: Buffer, tag: string): Promise<void> {
    this.answer();
    this.images.add(tag);
  }

  async pull(image: string): Promise<void> {
    this.answer();
    this.calls.push(`pull ${image}`);
    throw Object.assign(new Error(`pull access denied for ${image}`), { statusCode: 404 });
  }

  async create(options: Docker.ContainerCreateOptions): Promise<string> {
    this.answer();
    if (!options.Image || !this.images.has(options.Image)) throw Object.assign(new Error(`No such image: ${options.Image}`), { statusCode: 404 });
    const name = options.name ?? `c${this.next}`;
    if ([...this.containers.values()].some((c) => c.name === name))
      throw Object.assign(new Error(`Conflict. The container name "/${name}" is already in use`), { statusCode: 409 });
    const id = `${String(this.next++).padStart(4, '0')}${'f'.repeat(60)}`;
    this.containers.set(id, { id, name, options, labels: { ...(options.Labels ?? {}) }, status: 'created', exitCode: 0, createdAtMs: this.tick() });
    this.calls.push(`create ${name}`);
    return id;
  }

  async start(id: string): Promise<void> {
    this.answer();
    const c = this.containers.get(id);
    if (!c) throw Object.assign(new Error(`No such container: ${id}`), { statusCode: 404 });
    this.calls.push(`start ${c.name}`);
    if (c.status === 'running') return;
    const owner = c.options.HostConfig?.NetworkMode?.startsWith('container:') ? undefined : `10.0.0.${this.next}`;
    Object.assign(c, { status: 'running', startedAtMs: this.tick(), ip: owner, finishedAtMs: undefined });
    const b = this.behaviour(c.labels[DOCKER_LABEL.container] ?? '');
    if ('exit' in b) Object.assign(c, { status: 'exited', exitCode: b.exit, finishedAtMs: this.tick() });
  }

  async stop(id: string): Promise<void> {
    this.answer();
    const c = this.containers.get(id);
    if (!c) return;
    this.calls.push(`stop ${c.name}`);
    if (c.status === 'running') Object.assign(c, { status: 'exited', exitCode: 143, finishedAtMs: this.tick() });
  }

  async remove(id: string): Promise<void> {
    this.answer();
    const c = this.containers.get(id);
    if (!c) return;
    this.calls.push(`remove ${c.name}`);
    this.containers.delete(id);
  }

  async exec(_id: string, _cmd: string[], _sink: FrameSink): Promise<number> {
    this.answer();
    return 0;
  }
}
