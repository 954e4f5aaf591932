// The agent side of ConfigMaps and Secrets: fetches what a pod refers to before a container is
// created, sets up the pod's configMap, secret and memory-backed emptyDir volumes, and keeps
// mounted configMap/secret volumes current while the objects change (list+watch).
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ApiError } from '../../shared/client.js';
import type { ConfigMap, Pod, PodVolume, Secret } from '../../shared/types.js';
import type { ControllerConnection } from '../controller-client/connection.js';
import type { ControllerHealth } from '../controller-client/health.js';
import { runListWatch } from '../controller-client/list-watch.js';
import type { Logger } from '../log.js';
import { errorMessage } from '../log.js';
import { emptyDirPath, podDir, podNamespace, podVolumes } from '../pods/spec.js';
import { memoryBytes } from '../pods/quantity.js';
import { currentVersion, writeAtomic } from './atomic.js';
import { ConfigError, type ConfigWarning } from './errors.js';
import { mountedAt, mountTmpfs } from './mounts.js';
import { projectedSource, volumePayload, type ProjectedSource } from './payload.js';
import { podConfigRefs } from '../../shared/config-refs.js';
import type { ConfigSources, SourceKind } from './sources.js';

export interface PreparedConfig {
  sources: ConfigSources;
  warnings: ConfigWarning[];
}

/** What the pod sync needs: called before each container is created. */
export interface PodConfigSource {
  prepare(pod: Pod): Promise<PreparedConfig>;
  /** Calls `listener` with a pod's uid when an object the pod refers to appears or changes. */
  onAvailable?(listener: (uid: string) => void): void;
}

export interface ConfigManagerOptions {
  conn: ControllerConnection;
  dataDir: string;
  log: Logger;
  /** Mounts a tmpfs (tests replace it). */
  mountTmpfs?: (dir: string, mode: number, sizeBytes?: number) => Promise<void>;
}

const PLURAL: Record<SourceKind, string> = { configMap: 'configmaps', secret: 'secrets' };
const KIND_NAME: Record<SourceKind, string> = { configMap: 'configmap', secret: 'secret' };

/** Root of a secret tmpfs: files carry their own modes (0644 by default). */
const SECRET_TMPFS_MODE = 0o755;
/** Without tmpfs the secret files sit on disk: keep other host users out. */
const SECRET_DIR_FALLBACK_MODE = 0o700;
const CONFIGMAP_DIR_MODE = 0o755;
/** emptyDir is world-writable, as in Kubernetes. */
const EMPTYDIR_MODE = 0o777;

async function exists(p: string): Promise<boolean> {
  return fs.lstat(p).then(
    () => true,
    () => false,
  );
}

async function isEmptyDir(p: string): Promise<boolean> {
  return (await fs.readdir(p).catch(() => ['?'])).length === 0;
}

export class ConfigManager implements PodConfigSource {
  /** This node's pods, for updates. */
  private readonly pods = new Map<string, Pod>();
  /** resourceVersion last seen per `kind/namespace/name`. */
  private readonly seen = new Map<string, string>();
  /** One writer per volume directory at a time. */
  private readonly locks = new Map<string, Promise<unknown>>();
  /** resourceVersion of the object last written per volume directory: never go back to an older one. */
  private readonly written = new Map<string, number>();
  /** Woken when a ConfigMap or Secret a pod refers to appears or changes (retry a container waiting for it). */
  private readonly availableListeners: ((uid: string) => void)[] = [];

  constructor(private readonly opts: ConfigManagerOptions) {}

  onAvailable(listener: (uid: string) => void): void {
    this.availableListeners.push(listener);
  }

  // ---- before a container is created ------------------------------------------------------

  async prepare(pod: Pod): Promise<PreparedConfig> {
    const ns = podNamespace(pod);
    const refs = podConfigRefs(pod);
    const sources: ConfigSources = { configMaps: {}, secrets: {} };
    for (const name of refs.configMaps) {
      const cm = await this.fetch<ConfigMap>('configMap', ns, name);
      if (cm) sources.configMaps[name] = cm;
    }
    for (const name of refs.secrets) {
      const s = await this.fetch<Secret>('secret', ns, name);
      if (s) sources.secrets[name] = s;
    }
    const warnings: ConfigWarning[] = [];
    // As the kubelet does, every volume of the pod is set up before any of its containers starts.
    for (const v of podVolumes(pod)) {
      const dir = emptyDirPath(this.opts.dataDir, pod.metadata.uid, v.name);
      const src = projectedSource(v);
      if (src) {
        const obj = src.kind === 'configMap' ? sources.configMaps[src.name] : sources.secrets[src.name];
        const files = volumePayload(src, obj, ns, v.name);
        await this.locked(dir, async () => {
          const w = await this.ensureDir(dir, src.kind === 'secret' ? 'secret' : 'configMap');
          if (w) warnings.push({ reason: 'FailedMount', message: `volume ${v.name}: ${w}` });
          if (obj && this.isStale(dir, obj)) return;
          if (await writeAtomic(dir, files)) this.opts.log.debug({ pod: pod.metadata.name, volume: v.name, files: files.length }, 'volume written');
        });
      } else if (v.emptyDir?.medium === 'Memory') {
        let size: number | undefined;
        try {
          size = v.emptyDir.sizeLimit !== undefined ? memoryBytes(v.emptyDir.sizeLimit) : undefined;
        } catch (err) {
          throw new ConfigError(`volume ${v.name}: sizeLimit: ${errorMessage(err)}`);
        }
        const w = await this.locked(dir, () => this.ensureDir(dir, 'memory', size));
        if (w) warnings.push({ reason: 'FailedMount', message: `volume ${v.name}: ${w}` });
      }
    }
    return { sources, warnings };
  }

  private async fetch<T extends ConfigMap | Secret>(kind: SourceKind, ns: string, name: string): Promise<T | undefined> {
    try {
      return await this.opts.conn.api.get<T>(`/api/v1/namespaces/${encodeURIComponent(ns)}/${PLURAL[kind]}/${encodeURIComponent(name)}`);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return undefined;
      throw new ConfigError(`failed to read ${KIND_NAME[kind]} "${name}": ${errorMessage(err)}`);
    }
  }

  /**
   * Creates a volume directory; for secrets and memory emptyDirs with a tmpfs on it. A tmpfs is
   * only mounted on a new (or empty) directory, so containers already using it never end up
   * with different contents. Returns a warning when the tmpfs could not be mounted.
   */
  private async ensureDir(dir: string, kind: 'configMap' | 'secret' | 'memory', sizeBytes?: number): Promise<string | undefined> {
    const existed = await exists(dir);
    if (kind === 'configMap') {
      if (!existed) {
        await fs.mkdir(dir, { recursive: true, mode: CONFIGMAP_DIR_MODE });
        await fs.chmod(dir, CONFIGMAP_DIR_MODE);
      }
      return undefined;
    }
    // Set up once per pod: the marker says the directory is what its containers use.
    const marker = path.join(path.dirname(dir), `.${path.basename(dir)}.ready`);
    if (await exists(marker)) return undefined;
    const setUp = () => fs.writeFile(marker, '');
    if (existed && ((await mountedAt(dir)) === 'tmpfs' || !(await isEmptyDir(dir)))) {
      await setUp();
      return undefined;
    }
    const tmpfsMode = kind === 'secret' ? SECRET_TMPFS_MODE : EMPTYDIR_MODE;
    await fs.mkdir(path.dirname(dir), { recursive: true, mode: 0o755 });
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    try {
      await (this.opts.mountTmpfs ?? mountTmpfs)(dir, tmpfsMode, sizeBytes);
      await setUp();
      this.opts.log.info({ path: dir, ...(sizeBytes !== undefined ? { sizeBytes } : {}) }, 'tmpfs mounted for pod volume');
      return undefined;
    } catch (err) {
      const fallback = kind === 'secret' ? SECRET_DIR_FALLBACK_MODE : EMPTYDIR_MODE;
      await fs.chmod(dir, fallback);
      const why = errorMessage(err);
      const message =
        kind === 'secret'
          ? `cannot mount a tmpfs for the secret (${why}); its files are kept on disk in a directory only root may enter`
          : `cannot mount a tmpfs for the memory-backed emptyDir (${why}); it is a directory on disk`;
      await setUp();
      this.opts.log.warn({ path: dir }, message);
      return message;
    }
  }

  /** True when a newer version of the object was already written to `dir`; else records this one. */
  private isStale(dir: string, obj: ConfigMap | Secret): boolean {
    const rv = Number(obj.metadata.resourceVersion);
    if (!Number.isFinite(rv)) return false;
    if (rv < (this.written.get(dir) ?? 0)) return true;
    this.written.set(dir, rv);
    return false;
  }

  private locked<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(key) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.locks.set(key, tail);
    void tail.then(() => {
      if (this.locks.get(key) === tail) this.locks.delete(key);
    });
    return next;
  }

  // ---- updates while the pod runs ---------------------------------------------------------

  /** The complete set of this node's pods (after every pod list). */
  setPods(pods: Pod[]): void {
    const before = new Set(this.pods.keys());
    this.pods.clear();
    for (const p of pods) {
      this.pods.set(p.metadata.uid, p);
      if (!before.has(p.metadata.uid)) void this.refresh(p);
    }
    for (const uid of before) if (!this.pods.has(uid)) this.forget(uid);
  }

  onPodEvent(type: 'ADDED' | 'MODIFIED' | 'DELETED', pod: Pod): void {
    const known = this.pods.has(pod.metadata.uid);
    if (type === 'DELETED') {
      this.pods.delete(pod.metadata.uid);
      this.forget(pod.metadata.uid);
    } else {
      this.pods.set(pod.metadata.uid, pod);
      if (!known) void this.refresh(pod);
    }
  }

  private forget(uid: string): void {
    const prefix = podDir(this.opts.dataDir, uid) + path.sep;
    for (const dir of [...this.written.keys()]) if (dir.startsWith(prefix)) this.written.delete(dir);
  }

  /**
   * Brings the volumes of a pod seen for the first time (e.g. after an agent restart) up to
   * date: objects may have changed while nobody watched.
   */
  private async refresh(pod: Pod): Promise<void> {
    if (pod.metadata.deletionTimestamp) return;
    for (const v of podVolumes(pod)) {
      const src = projectedSource(v);
      if (!src || !(await currentVersion(emptyDirPath(this.opts.dataDir, pod.metadata.uid, v.name)))) continue;
      try {
        const obj = await this.fetch<ConfigMap | Secret>(src.kind, podNamespace(pod), src.name);
        if (obj) await this.update(pod, v, src, obj);
      } catch (err) {
        this.opts.log.debug({ pod: pod.metadata.name, volume: v.name, err: errorMessage(err) }, 'volume refresh skipped');
      }
    }
  }

  /** Lists and watches ConfigMaps and Secrets until the signal aborts. */
  run(health: ControllerHealth, signal: AbortSignal): Promise<void> {
    const loop = <T extends ConfigMap | Secret>(kind: SourceKind) =>
      runListWatch<T>(
        {
          conn: this.opts.conn,
          path: `/api/v1/${PLURAL[kind]}`,
          query: {},
          what: PLURAL[kind],
          health,
          log: this.opts.log,
          handlers: {
            onList: (items) => {
              const keys = new Set<string>();
              for (const obj of items) {
                keys.add(this.key(kind, obj));
                this.observe(kind, obj);
              }
              for (const k of [...this.seen.keys()]) if (k.startsWith(`${kind}/`) && !keys.has(k)) this.seen.delete(k);
            },
            onEvent: (type, obj) => {
              if (type === 'DELETED') this.seen.delete(this.key(kind, obj));
              // Deleted objects keep their files, as with the kubelet.
              else this.observe(kind, obj);
            },
          },
        },
        signal,
      );
    return Promise.all([loop<ConfigMap>('configMap'), loop<Secret>('secret')]).then(() => undefined);
  }

  private key(kind: SourceKind, obj: ConfigMap | Secret): string {
    return `${kind}/${obj.metadata.namespace ?? 'default'}/${obj.metadata.name}`;
  }

  private observe(kind: SourceKind, obj: ConfigMap | Secret): void {
    const key = this.key(kind, obj);
    if (this.seen.get(key) === obj.metadata.resourceVersion) return;
    this.seen.set(key, obj.metadata.resourceVersion);
    this.changed(kind, obj);
  }

  /** Rewrites the volumes that show `obj` and wakes pods waiting for it. */
  changed(kind: SourceKind, obj: ConfigMap | Secret): void {
    const ns = obj.metadata.namespace ?? 'default';
    const name = obj.metadata.name;
    for (const pod of this.pods.values()) {
      if (podNamespace(pod) !== ns || pod.metadata.deletionTimestamp) continue;
      const refs = podConfigRefs(pod);
      if (!(kind === 'configMap' ? refs.configMaps : refs.secrets).has(name)) continue;
      for (const listener of this.availableListeners) listener(pod.metadata.uid);
      for (const v of podVolumes(pod)) {
        const src = projectedSource(v);
        if (src?.kind === kind && src.name === name) void this.update(pod, v, src, obj);
      }
    }
  }

  private async update(pod: Pod, v: PodVolume, src: ProjectedSource, obj: ConfigMap | Secret): Promise<void> {
    const dir = emptyDirPath(this.opts.dataDir, pod.metadata.uid, v.name);
    const log = this.opts.log.child({ pod: `${podNamespace(pod)}/${pod.metadata.name}`, volume: v.name });
    await this.locked(dir, async () => {
      // Only volumes already set up for a container; the first write happens in prepare().
      if (!(await currentVersion(dir)) || this.isStale(dir, obj)) return;
      let files: ReturnType<typeof volumePayload>;
      try {
        files = volumePayload(src, obj, podNamespace(pod), v.name);
      } catch (err) {
        // Like the kubelet: the volume keeps its last good content.
        log.warn({ err: errorMessage(err) }, 'cannot update volume');
        return;
      }
      if (await writeAtomic(dir, files)) log.info({ [src.kind]: obj.metadata.name, resourceVersion: obj.metadata.resourceVersion }, 'volume updated');
    }).catch((err: unknown) => log.warn({ err: errorMessage(err) }, 'updating volume failed'));
  }
}
