// Pure translation of a pod's container into Docker's create options: names, labels, env with
// downward-API fields, ConfigMaps and Secrets, `$(VAR)` expansion, volumes, limits.
import path from 'node:path';
import type Docker from 'dockerode';
import type { Container } from '../../shared/manifest/schema.js';
import { DEFAULT_NAMESPACE, DEFAULT_ZONE, DOCKER_LABEL, volumeHostPath } from '../../shared/naming.js';
import type { Pod, PodVolume } from '../../shared/types.js';
import { envFromVars, keyRefValue } from '../config/env.js';
import { ConfigError, type ConfigWarning } from '../config/errors.js';
import { payloadFromSources, payloadHasPath } from '../config/payload.js';
import { NO_SOURCES, type ConfigSources } from '../config/sources.js';
import { expand } from './expand.js';
import { memoryBytes, nanoCpus } from './quantity.js';

export { ConfigError };

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

/** `<subdomain>.<namespace>.svc.<zone>`, or undefined without a subdomain. */
export function podDomain(pod: Pod, zone: string = DEFAULT_ZONE): string | undefined {
  return pod.spec.subdomain ? `${pod.spec.subdomain}.${podNamespace(pod)}.svc.${zone}` : undefined;
}

/** Where a pod's network lives and how it resolves names (the agent's --pod-network and cluster DNS). */
export interface PodNetworkContext {
  /** Docker network of the pod; default `bridge`. */
  network?: string;
  /** Cluster DNS zone, for the pod's domain; default cluster.local. */
  zone?: string;
  /**
   * Host path of the pod's resolv.conf (agent/pods/resolv.ts), bind-mounted read-only at
   * /etc/resolv.conf into every container of the pod. Undefined: Docker's.
   */
  resolvConf?: string;
  /** The pod's address, given to Docker for the container that owns the pod's network (agent/network/ipam.ts). */
  ip?: string;
}

/** Container label with the address the agent gave the pod (re-adopted after a restart of the agent). */
export const POD_IP_LABEL = DOCKER_LABEL.podIP;

/** The read-only bind mount of the pod's resolv.conf. */
export function resolvConfMount(source: string): MountSpec {
  return { Type: 'bind', Source: source, Target: '/etc/resolv.conf', ReadOnly: true };
}

function addResolvConf(host: Docker.HostConfig, net: PodNetworkContext): void {
  if (!net.resolvConf) return;
  const mounts = ((host.Mounts ??= []) as MountSpec[]).filter((m) => m.Target !== '/etc/resolv.conf');
  mounts.push(resolvConfMount(net.resolvConf));
  host.Mounts = mounts;
}

/** Network, hostname, address and resolv.conf of the container that owns a pod's network namespace. */
export function applyPodNetwork(options: Docker.ContainerCreateOptions, pod: Pod, net: PodNetworkContext = {}): Docker.ContainerCreateOptions {
  const host = (options.HostConfig ??= {});
  const network = net.network ?? 'bridge';
  host.NetworkMode = pod.spec.hostNetwork ? 'host' : network;
  addResolvConf(host, net);
  // hostNetwork: the host's addresses, ports and name, as in Kubernetes.
  if (pod.spec.hostNetwork) return options;
  options.Hostname = pod.spec.hostname ?? pod.metadata.name;
  const domain = podDomain(pod, net.zone);
  if (domain) options.Domainname = domain;
  if (net.ip) {
    options.NetworkingConfig = { EndpointsConfig: { [network]: { IPAMConfig: { IPv4Address: net.ip } } } };
    options.Labels = { ...(options.Labels ?? {}), [POD_IP_LABEL]: net.ip };
  }
  return options;
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
  /** The ConfigMaps and Secrets the pod refers to, fetched for this creation. */
  config?: ConfigSources;
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
  return containerEnv(pod, c, ctx).env;
}

/**
 * The environment as the kubelet builds it: envFrom first, then env (which wins on a repeated
 * name); `$(VAR)` in env values sees both. Also the warnings (envFrom keys skipped).
 */
export function containerEnv(pod: Pod, c: Container, ctx: EnvContext): { env: Map<string, string>; warnings: ConfigWarning[] } {
  const ns = podNamespace(pod);
  const sources = ctx.config ?? NO_SOURCES;
  const vars = new Map<string, string>();
  const set = (name: string, value: string) => {
    // A repeated name takes the later value and place, as in Kubernetes.
    vars.delete(name);
    vars.set(name, value);
  };
  const from = envFromVars(c, sources, ns);
  const warnings = [...from.warnings];
  for (const [k, v] of from.vars) set(k, v);
  for (const e of c.env ?? []) {
    let value: string | undefined = '';
    if (e.value !== undefined) {
      value = expand(e.value, (n) => vars.get(n));
    } else if (e.valueFrom?.fieldRef) {
      const fieldPath = e.valueFrom.fieldRef.fieldPath;
      value = fieldRefValue(pod, fieldPath, ctx);
      if (value === undefined) throw new ConfigError(`env ${e.name}: unsupported fieldRef "${fieldPath}"`);
      if (fieldPath.startsWith('status.podIP') && ctx.podIP === undefined) {
        warnings.push({ reason: 'PodIPUnknown', message: `env ${e.name}: the pod's address is not known yet; ${fieldPath} is empty` });
      }
    } else if (e.valueFrom?.configMapKeyRef) {
      value = keyRefValue('configMap', e.valueFrom.configMapKeyRef, sources, ns, e.name);
    } else if (e.valueFrom?.secretKeyRef) {
      value = keyRefValue('secret', e.valueFrom.secretKeyRef, sources, ns, e.name);
    }
    // An optional reference to something missing leaves the variable out.
    if (value !== undefined) set(e.name, value);
  }
  return { env: vars, warnings };
}

/** A directory the agent creates before the container starts. */
export interface DirSpec {
  path: string;
  mode: number;
  kind: 'claim' | 'emptyDir' | 'hostPath' | 'subPath';
  /** For a subPath: the volume's directory, which the subPath must stay inside after symlinks resolve. */
  root?: string;
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

/**
 * Bind mounts for a container's volumeMounts, and the directories they need. configMap and
 * secret volumes (written by the agent before the container is created) are always read-only;
 * with `sources`, a subPath into one must name a file or directory of its payload.
 */
export function containerMounts(pod: Pod, c: Container, dataDir: string, sources?: ConfigSources): { mounts: MountSpec[]; dirs: DirSpec[] } {
  const volumes = new Map(podVolumes(pod).map((v) => [v.name, v]));
  const mounts: MountSpec[] = [];
  const dirs: DirSpec[] = [];
  for (const vm of c.volumeMounts ?? []) {
    const v = volumes.get(vm.name);
    if (!v) throw new ConfigError(`volumeMount ${vm.name}: the pod has no volume of that name`);
    let source: string;
    const projected = v.configMap !== undefined || v.secret !== undefined;
    if (projected) {
      source = emptyDirPath(dataDir, pod.metadata.uid, v.name);
    } else if (v.persistentVolumeClaim) {
      source = volumeHostPath(dataDir, podNamespace(pod), v.persistentVolumeClaim.claimName);
      dirs.push({ path: source, mode: 0o755, kind: 'claim' });
    } else if (v.hostPath) {
      source = v.hostPath.path;
      dirs.push({ path: source, mode: 0o755, kind: 'hostPath' });
    } else {
      // emptyDir (medium Memory: a tmpfs the agent mounts there first), and volumes without a
      // source, which Kubernetes also treats as emptyDir.
      source = emptyDirPath(dataDir, pod.metadata.uid, v.name);
      dirs.push({ path: source, mode: 0o777, kind: 'emptyDir' });
    }
    if (vm.subPath) {
      const sub = path.posix.normalize(vm.subPath);
      if (path.posix.isAbsolute(vm.subPath) || sub === '..' || sub.startsWith('../')) {
        throw new ConfigError(`volumeMount ${vm.name}: subPath "${vm.subPath}" must be a relative path inside the volume`);
      }
      if (projected) {
        // A single key (or directory of keys); like the kubelet's, such a mount sees later updates only after a restart.
        const files = sources ? payloadFromSources(v, sources, podNamespace(pod)) : undefined;
        if (files && !payloadHasPath(files, sub))
          throw new ConfigError(`volumeMount ${vm.name}: subPath "${vm.subPath}" is not a key of the volume's ${v.configMap ? 'ConfigMap' : 'Secret'}`);
        source = path.join(source, sub);
      } else {
        const root = source;
        source = path.join(source, sub);
        dirs.push({ path: source, mode: 0o755, kind: 'subPath', root });
      }
    }
    mounts.push({
      Type: 'bind',
      Source: source,
      Target: vm.mountPath,
      ReadOnly: projected || vm.readOnly === true || v.persistentVolumeClaim?.readOnly === true,
    });
  }
  return { mounts, dirs };
}

export interface CreateContext extends EnvContext {
  dataDir: string;
  /** Id of the container that owns the pod's network namespace (holder or first container), for all others to join. */
  networkOf?: string;
  /** `index` refers to spec.initContainers (init containers and sidecars). */
  init?: boolean;
  /** Network and DNS of the container that owns the pod's network namespace. */
  podNetwork?: PodNetworkContext;
}

export interface CreatePlan {
  options: Docker.ContainerCreateOptions;
  dirs: DirSpec[];
  /** For Warning events (envFrom keys that are not valid variable names). */
  warnings: ConfigWarning[];
}

/** Docker create options for `pod.spec.containers[index]` (`initContainers` with ctx.init). Throws ConfigError. */
export function createOptions(pod: Pod, index: number, ctx: CreateContext): CreatePlan {
  const c = ctx.init ? pod.spec.initContainers?.[index] : pod.spec.containers[index];
  if (!c) throw new ConfigError(`pod has no container #${index}`);
  const { env, warnings } = containerEnv(pod, c, ctx);
  const lookup = (n: string) => env.get(n);
  const { mounts, dirs } = containerMounts(pod, c, ctx.dataDir, ctx.config);
  const grace = pod.spec.terminationGracePeriodSeconds ?? 30;
  const limits = c.resources?.limits;
  const host: Docker.HostConfig = {
    // tini as PID 1 so SIGTERM reaches the process (a shell or a program that is PID 1 ignores it
    // unless it installs a handler).
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
  if (index === 0 && !ctx.init && !ctx.networkOf) {
    applyPodNetwork(options, pod, ctx.podNetwork);
  } else {
    if (!ctx.networkOf) throw new ConfigError(`container ${c.name}: the pod's network namespace owner is not running`);
    // Docker forbids Hostname here; the container inherits the first container's.
    host.NetworkMode = `container:${ctx.networkOf}`;
    if (ctx.podNetwork) addResolvConf(host, ctx.podNetwork);
  }
  if (c.command) options.Entrypoint = c.command.map((s) => expand(s, lookup));
  if (c.args) options.Cmd = c.args.map((s) => expand(s, lookup));
  if (c.workingDir) options.WorkingDir = c.workingDir;
  // Attachable stdio (kubectl run -i -t, kubectl attach): Docker's own flags of the same meaning.
  if (c.stdin) {
    options.OpenStdin = true;
    if (c.stdinOnce) options.StdinOnce = true;
  }
  if (c.tty) options.Tty = true;
  return { options, dirs, warnings };
}
