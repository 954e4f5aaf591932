// Pure translation of a pod's container into Docker's create options: names, labels, env with
// downward-API fields, `$(VAR)` expansion, volumes, limits.
import path from 'node:path';
import type Docker from 'dockerode';
import type { Container } from '../../shared/manifest/schema.js';
import { DEFAULT_NAMESPACE, DEFAULT_ZONE, DOCKER_LABEL, volumeHostPath } from '../../shared/naming.js';
import type { Pod, PodVolume } from '../../shared/types.js';
import { expand } from './expand.js';
import { memoryBytes, nanoCpus } from './quantity.js';

/** A pod spec that cannot be turned into a container (bad volume, quantity, subPath). */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

export function podNamespace(pod: Pod): string {
  return pod.metadata.namespace ?? DEFAULT_NAMESPACE;
}

export function podVolumes(pod: Pod): PodVolume[] {
  return (pod.spec.volumes ?? []) as PodVolume[];
}

/** `berth_<container>_<pod>_<namespace>_<first 8 of uid>`. */
export function dockerName(pod: Pod, container: string): string {
  return `berth_${container}_${pod.metadata.name}_${podNamespace(pod)}_${pod.metadata.uid.slice(0, 8)}`;
}

export function containerLabels(pod: Pod, container: string, nodeName: string): Record<string, string> {
  return {
    [DOCKER_LABEL.managed]: 'true',
    [DOCKER_LABEL.node]: nodeName,
    [DOCKER_LABEL.podUid]: pod.metadata.uid,
    [DOCKER_LABEL.podName]: pod.metadata.name,
    [DOCKER_LABEL.namespace]: podNamespace(pod),
    [DOCKER_LABEL.container]: container,
  };
}

/** `<subdomain>.<namespace>.svc.cluster.local`, or undefined without a subdomain. */
export function podDomain(pod: Pod): string | undefined {
  return pod.spec.subdomain ? `${pod.spec.subdomain}.${podNamespace(pod)}.svc.${DEFAULT_ZONE}` : undefined;
}

export type PullPolicy = 'Always' | 'IfNotPresent' | 'Never';

/** Kubernetes' default: Always for `:latest` or no tag, IfNotPresent otherwise. */
export function pullPolicy(c: Pick<Container, 'image' | 'imagePullPolicy'>): PullPolicy {
  if (c.imagePullPolicy) return c.imagePullPolicy;
  if (c.image.includes('@')) return 'IfNotPresent';
  const last = c.image.slice(c.image.lastIndexOf('/') + 1);
  const colon = last.lastIndexOf(':');
  const tag = colon < 0 ? 'latest' : last.slice(colon + 1);
  return tag === 'latest' ? 'Always' : 'IfNotPresent';
}

export interface EnvContext {
  nodeName: string;
  hostIP: string;
  podIP?: string;
}

const FIELD_MAP = /^metadata\.(labels|annotations)\[(?:'([^']*)'|"([^"]*)")\]$/;

/** Value of a downward-API fieldPath, or undefined when berth does not know the field. */
export function fieldRefValue(pod: Pod, fieldPath: string, ctx: EnvContext): string | undefined {
  switch (fieldPath) {
    case 'metadata.name':
      return pod.metadata.name;
    case 'metadata.namespace':
      return podNamespace(pod);
    case 'metadata.uid':
      return pod.metadata.uid;
    case 'spec.nodeName':
      return pod.spec.nodeName ?? ctx.nodeName;
    case 'spec.hostname':
      return pod.spec.hostname ?? pod.metadata.name;
    case 'status.podIP':
    case 'status.podIPs':
      return ctx.podIP ?? '';
    case 'status.hostIP':
    case 'status.hostIPs':
      return ctx.hostIP;
  }
  const m = FIELD_MAP.exec(fieldPath);
  if (m) {
    const map = m[1] === 'labels' ? pod.metadata.labels : pod.metadata.annotations;
    return map?.[m[2] ?? m[3]] ?? '';
  }
  return undefined;
}

/** The container's environment, in order, with `$(VAR)` in values expanded against earlier entries. */
export function resolveEnv(pod: Pod, c: Container, ctx: EnvContext): Map<string, string> {
  const vars = new Map<string, string>();
  for (const e of c.env ?? []) {
    let value = '';
    if (e.value !== undefined) {
      value = expand(e.value, (n) => vars.get(n));
    } else if (e.valueFrom?.fieldRef) {
      const v = fieldRefValue(pod, e.valueFrom.fieldRef.fieldPath, ctx);
      if (v === undefined) throw new ConfigError(`env ${e.name}: unsupported fieldRef "${e.valueFrom.fieldRef.fieldPath}"`);
      value = v;
    }
    // A repeated name takes the later value, as in Kubernetes.
    vars.delete(e.name);
    vars.set(e.name, value);
  }
  return vars;
}

/** A directory the agent creates before the container starts. */
export interface DirSpec {
  path: string;
  mode: number;
  kind: 'claim' | 'emptyDir' | 'hostPath' | 'subPath';
}

export function podDir(dataDir: string, uid: string): string {
  return path.join(dataDir, 'pods', uid);
}

export function emptyDirPath(dataDir: string, uid: string, volume: string): string {
  return path.join(podDir(dataDir, uid), 'volumes', volume);
}

export interface MountSpec {
  Type: 'bind';
  Source: string;
  Target: string;
  ReadOnly: boolean;
}

/** Bind mounts for a container's volumeMounts, and the directories they need. */
export function containerMounts(pod: Pod, c: Container, dataDir: string): { mounts: MountSpec[]; dirs: DirSpec[] } {
  const volumes = new Map(podVolumes(pod).map((v) => [v.name, v]));
  const mounts: MountSpec[] = [];
  const dirs: DirSpec[] = [];
  for (const vm of c.volumeMounts ?? []) {
    const v = volumes.get(vm.name);
    if (!v) throw new ConfigError(`volumeMount ${vm.name}: the pod has no volume of that name`);
    let source: string;
    if (v.persistentVolumeClaim) {
      source = volumeHostPath(dataDir, podNamespace(pod), v.persistentVolumeClaim.claimName);
      dirs.push({ path: source, mode: 0o755, kind: 'claim' });
    } else if (v.hostPath) {
      source = v.hostPath.path;
      dirs.push({ path: source, mode: 0o755, kind: 'hostPath' });
    } else {
      // emptyDir, and volumes without a source, which Kubernetes also treats as emptyDir.
      source = emptyDirPath(dataDir, pod.metadata.uid, v.name);
      dirs.push({ path: source, mode: 0o777, kind: 'emptyDir' });
    }
    if (vm.subPath) {
      const sub = path.posix.normalize(vm.subPath);
      if (path.posix.isAbsolute(vm.subPath) || sub === '..' || sub.startsWith('../')) {
        throw new ConfigError(`volumeMount ${vm.name}: subPath "${vm.subPath}" must be a relative path inside the volume`);
      }
      source = path.join(source, sub);
      dirs.push({ path: source, mode: 0o755, kind: 'subPath' });
    }
    mounts.push({ Type: 'bind', Source: source, Target: vm.mountPath, ReadOnly: vm.readOnly === true });
  }
  return { mounts, dirs };
}

export interface CreateContext extends EnvContext {
  dataDir: string;
  /** Id of the pod's first container, whose network namespace the others join. */
  networkOf?: string;
}

export interface CreatePlan {
  options: Docker.ContainerCreateOptions;
  dirs: DirSpec[];
}

/** Docker create options for `pod.spec.containers[index]`. Throws ConfigError. */
export function createOptions(pod: Pod, index: number, ctx: CreateContext): CreatePlan {
  const c = pod.spec.containers[index];
  if (!c) throw new ConfigError(`pod has no container #${index}`);
  const env = resolveEnv(pod, c, ctx);
  const lookup = (n: string) => env.get(n);
  const { mounts, dirs } = containerMounts(pod, c, ctx.dataDir);
  const grace = pod.spec.terminationGracePeriodSeconds ?? 30;
  const limits = c.resources?.limits;
  const host: Docker.HostConfig = {
    // tini as PID 1 so SIGTERM reaches the process (platform notes, pitfall 1).
    Init: true,
    // The agent restarts containers itself, with back-off.
    RestartPolicy: { Name: 'no' },
    Mounts: mounts,
    LogConfig: { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '3' } },
  };
  try {
    if (limits?.memory !== undefined) {
      host.Memory = memoryBytes(limits.memory);
      // No swap on top of the limit, as in Kubernetes (Docker's default would double it).
      host.MemorySwap = host.Memory;
    }
    if (limits?.cpu !== undefined) host.NanoCpus = nanoCpus(limits.cpu);
  } catch (err) {
    throw new ConfigError(`resources.limits: ${(err as Error).message}`);
  }
  const options: Docker.ContainerCreateOptions = {
    name: dockerName(pod, c.name),
    Image: c.image,
    Labels: containerLabels(pod, c.name, ctx.nodeName),
    Env: [...env].map(([k, v]) => `${k}=${v}`),
    StopTimeout: grace,
    HostConfig: host,
  };
  if (index === 0) {
    host.NetworkMode = 'bridge';
    options.Hostname = pod.spec.hostname ?? pod.metadata.name;
    const domain = podDomain(pod);
    if (domain) options.Domainname = domain;
  } else {
    if (!ctx.networkOf) throw new ConfigError(`container ${c.name}: the pod's first container is not running`);
    // Docker forbids Hostname here; the container inherits the first container's.
    host.NetworkMode = `container:${ctx.networkOf}`;
  }
  if (c.command) options.Entrypoint = c.command.map((s) => expand(s, lookup));
  if (c.args) options.Cmd = c.args.map((s) => expand(s, lookup));
  if (c.workingDir) options.WorkingDir = c.workingDir;
  return { options, dirs };
}
