// `berth describe` text, laid out like kubectl's describers. Pure: objects, related pods and
// events, and `now` in, text out.
import type { Container, LabelSelector, Probe } from '../shared/manifest/schema.js';
import YAML from 'yaml';
import type {
  ConfigMap,
  ControllerRevision,
  ContainerState,
  ContainerStatus,
  Event,
  Node,
  PersistentVolumeClaim,
  Pod,
  PodVolume,
  Secret,
  Service,
  StatefulSet,
} from '../shared/types.js';
import { accessModesShort, formatLabels, NONE, nodeRoles, since } from './format.js';
import { DESCRIBE_TABS, tabwrite } from './tabwriter.js';

const INDENT = '  ';

/** Collects tab-separated lines; `flush` ends an alignment block, `raw` bypasses alignment. */
export class PrefixWriter {
  private readonly chunks: { aligned: boolean; text: string }[] = [];

  write(level: number, text: string): void {
    this.append(true, INDENT.repeat(level) + text);
  }

  raw(text: string): void {
    this.append(false, text);
  }

  flush(): void {
    this.chunks.push({ aligned: true, text: '' });
  }

  private append(aligned: boolean, text: string): void {
    const last = this.chunks[this.chunks.length - 1];
    if (last && last.aligned === aligned) last.text += text;
    else this.chunks.push({ aligned, text });
  }

  toString(): string {
    return this.chunks.map((c) => (c.aligned ? tabwrite(c.text, DESCRIBE_TABS) : c.text)).join('');
  }
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}

/** Go's time.RFC1123Z in local time: `Mon, 02 Jan 2006 15:04:05 -0700`. */
export function rfc1123z(timestamp: string | undefined): string {
  if (!timestamp) return '<unknown>';
  const d = new Date(timestamp);
  if (Number.isNaN(d.getTime())) return '<unknown>';
  const off = -d.getTimezoneOffset();
  const sign = off < 0 ? '-' : '+';
  const abs = Math.abs(off);
  return (
    `${DAYS[d.getDay()]}, ${pad2(d.getDate())} ${MONTHS[d.getMonth()]} ${d.getFullYear()} ` +
    `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())} ${sign}${pad2(Math.floor(abs / 60))}${pad2(abs % 60)}`
  );
}

/** kubectl's label selector string: `app=web,tier in (a,b),!x`, sorted by key. */
export function selectorString(sel: LabelSelector | undefined): string {
  const terms: [string, string][] = Object.entries(sel?.matchLabels ?? {}).map(([k, v]) => [k, `${k}=${v}`]);
  for (const e of sel?.matchExpressions ?? []) {
    const values = [...(e.values ?? [])].sort().join(',');
    const text =
      e.operator === 'In' ? `${e.key} in (${values})` : e.operator === 'NotIn' ? `${e.key} notin (${values})` : e.operator === 'Exists' ? e.key : `!${e.key}`;
    terms.push([e.key, text]);
  }
  return terms
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([, t]) => t)
    .join(',');
}

function labelsMultiline(w: PrefixWriter, title: string, labels: Record<string, string> | undefined, indent = ''): void {
  const keys = Object.keys(labels ?? {}).sort();
  if (keys.length === 0) {
    w.write(0, `${indent}${title}:\t${NONE}\n`);
    return;
  }
  keys.forEach((k, i) => w.write(0, `${i === 0 ? `${indent}${title}:` : indent}\t${k}=${labels![k]}\n`));
}

function annotationsMultiline(w: PrefixWriter, title: string, annotations: Record<string, string> | undefined, indent = ''): void {
  const keys = Object.keys(annotations ?? {}).sort();
  if (keys.length === 0) {
    w.write(0, `${indent}${title}:\t${NONE}\n`);
    return;
  }
  keys.forEach((k, i) => w.write(0, `${i === 0 ? `${indent}${title}:` : indent}\t${k}: ${annotations![k]}\n`));
}

function listMultiline(w: PrefixWriter, title: string, items: string[]): void {
  if (items.length === 0) {
    w.write(0, `${title}:\t${NONE}\n`);
    return;
  }
  items.forEach((item, i) => w.write(0, `${i === 0 ? `${title}:` : ''}\t${item}\n`));
}

function meta(
  w: PrefixWriter,
  o: { metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> } },
): void {
  w.write(0, `Name:\t${o.metadata.name}\n`);
  if (o.metadata.namespace !== undefined) w.write(0, `Namespace:\t${o.metadata.namespace}\n`);
}

// ---- events ----

export function sortEvents(events: Event[]): Event[] {
  const t = (e: Event) => Date.parse(e.lastTimestamp || e.firstTimestamp) || 0;
  return [...events].sort((a, b) => t(a) - t(b));
}

/** The closing `Events:` section every describe ends with. */
export function describeEvents(w: PrefixWriter, events: Event[], now: number): void {
  if (events.length === 0) {
    w.write(0, `Events:\t${NONE}\n`);
    return;
  }
  w.flush();
  w.write(0, 'Events:\n');
  w.write(1, 'Type\tReason\tAge\tFrom\tMessage\n');
  w.write(1, '----\t------\t----\t----\t-------\n');
  for (const e of sortEvents(events)) {
    const first = since(e.firstTimestamp, now);
    const age = (e.count ?? 1) > 1 ? `${since(e.lastTimestamp, now)} (x${e.count} over ${first})` : first;
    w.write(1, `${e.type}\t${e.reason}\t${age}\t${e.source?.component ?? ''}\t${(e.message ?? '').trim()}\n`);
  }
}

// ---- containers ----

function describeProbe(p: Probe): string {
  const attrs = `delay=${p.initialDelaySeconds ?? 0}s timeout=${p.timeoutSeconds ?? 1}s period=${p.periodSeconds ?? 10}s #success=${p.successThreshold ?? 1} #failure=${p.failureThreshold ?? 3}`;
  if (p.exec) return `exec [${p.exec.command.join(' ')}] ${attrs}`;
  if (p.httpGet) {
    const scheme = (p.httpGet.scheme ?? 'HTTP').toLowerCase();
    const path = p.httpGet.path ?? '/';
    return `http-get ${scheme}://${p.httpGet.host ?? ''}:${p.httpGet.port}${path.startsWith('/') ? '' : '/'}${path} ${attrs}`;
  }
  if (p.tcpSocket) return `tcp-socket ${p.tcpSocket.host ?? ''}:${p.tcpSocket.port} ${attrs}`;
  return `unknown ${attrs}`;
}

function describeState(w: PrefixWriter, title: string, st: ContainerState | undefined): void {
  if (st?.running) {
    w.write(2, `${title}:\tRunning\n`);
    w.write(3, `Started:\t${rfc1123z(st.running.startedAt)}\n`);
  } else if (st?.terminated) {
    w.write(2, `${title}:\tTerminated\n`);
    if (st.terminated.reason) w.write(3, `Reason:\t${st.terminated.reason}\n`);
    w.write(3, `Exit Code:\t${st.terminated.exitCode}\n`);
    if (st.terminated.startedAt) w.write(3, `Started:\t${rfc1123z(st.terminated.startedAt)}\n`);
    if (st.terminated.finishedAt) w.write(3, `Finished:\t${rfc1123z(st.terminated.finishedAt)}\n`);
  } else {
    w.write(2, `${title}:\tWaiting\n`);
    if (st?.waiting?.reason) w.write(3, `Reason:\t${st.waiting.reason}\n`);
    if (st?.waiting?.message) w.write(3, `Message:\t${st.waiting.message}\n`);
  }
}

/** Value of an env var taken from a pod field, as far as the pod object tells it. */
function fieldValue(pod: Pod | undefined, fieldPath: string): string {
  if (!pod) return '';
  const m = /^metadata\.(labels|annotations)\['(.*)'\]$/.exec(fieldPath);
  if (m) return (m[1] === 'labels' ? pod.metadata.labels : pod.metadata.annotations)?.[m[2]] ?? '';
  const known: Record<string, string | undefined> = {
    'metadata.name': pod.metadata.name,
    'metadata.namespace': pod.metadata.namespace,
    'metadata.uid': pod.metadata.uid,
    'spec.nodeName': pod.spec?.nodeName,
    'status.podIP': pod.status?.podIP,
    'status.hostIP': pod.status?.hostIP,
  };
  return known[fieldPath] ?? '';
}

function describeContainers(
  w: PrefixWriter,
  containers: Container[],
  statuses: ContainerStatus[] | undefined,
  pod: Pod | undefined,
  space: string,
  title = 'Containers',
): void {
  if (containers.length === 0) {
    w.write(0, `${space}${title}:\t${NONE}\n`);
    return;
  }
  w.write(0, `${space}${title}:\n`);
  const nameIndent = space ? ' ' : '';
  for (const c of containers) {
    const status = statuses?.find((s) => s.name === c.name);
    w.write(1, `${nameIndent}${c.name}:\n`);
    if (status) w.write(2, `Container ID:\t${status.containerID ?? ''}\n`);
    w.write(2, `Image:\t${c.image}\n`);
    if (status) w.write(2, `Image ID:\t${status.imageID ?? ''}\n`);
    const ports = (c.ports ?? []).map((p) => `${p.containerPort}/${p.protocol ?? 'TCP'}`);
    w.write(2, ports.length > 1 ? `Ports:\t${ports.join(', ')}\n` : `Port:\t${ports[0] ?? NONE}\n`);
    if (c.command?.length) {
      w.write(2, 'Command:\n');
      for (const s of c.command.flatMap((x) => x.split('\n'))) w.write(3, `${s}\n`);
    }
    if (c.args?.length) {
      w.write(2, 'Args:\n');
      for (const s of c.args.flatMap((x) => x.split('\n'))) w.write(3, `${s}\n`);
    }
    if (status) {
      describeState(w, 'State', status.state);
      if (status.lastState?.terminated) describeState(w, 'Last State', status.lastState);
      w.write(2, `Ready:\t${status.ready ? 'True' : 'False'}\n`);
      w.write(2, `Restart Count:\t${status.restartCount ?? 0}\n`);
    }
    for (const kind of ['limits', 'requests'] as const) {
      const list = c.resources?.[kind];
      const names = Object.keys(list ?? {}).sort() as ('cpu' | 'memory')[];
      if (names.length === 0) continue;
      w.write(2, `${kind === 'limits' ? 'Limits' : 'Requests'}:\n`);
      for (const n of names) w.write(3, `${n}:\t${list![n]}\n`);
    }
    if (c.livenessProbe) w.write(2, `Liveness:\t${describeProbe(c.livenessProbe)}\n`);
    if (c.readinessProbe) w.write(2, `Readiness:\t${describeProbe(c.readinessProbe)}\n`);
    if (c.startupProbe) w.write(2, `Startup:\t${describeProbe(c.startupProbe)}\n`);
    const env = c.env ?? [];
    w.write(2, `Environment:${env.length === 0 ? `\t${NONE}` : ''}\n`);
    for (const e of env) {
      if (e.valueFrom?.fieldRef) {
        const ref = e.valueFrom.fieldRef;
        w.write(3, `${e.name}:\t${fieldValue(pod, ref.fieldPath)} (${ref.apiVersion ?? 'v1'}:${ref.fieldPath})\n`);
      } else {
        (e.value ?? '').split('\n').forEach((s, i) => w.write(3, i === 0 ? `${e.name}:\t${s}\n` : `\t${s}\n`));
      }
    }
    const mounts = [...(c.volumeMounts ?? [])].sort((a, b) => (a.mountPath < b.mountPath ? -1 : a.mountPath > b.mountPath ? 1 : 0));
    w.write(2, `Mounts:${mounts.length === 0 ? `\t${NONE}` : ''}\n`);
    for (const m of mounts) {
      const flags = [m.readOnly ? 'ro' : 'rw', ...(m.subPath ? [`path=${JSON.stringify(m.subPath)}`] : [])];
      w.write(3, `${m.mountPath} from ${m.name} (${flags.join(',')})\n`);
    }
  }
}

function describeVolumes(w: PrefixWriter, volumes: PodVolume[] | undefined, space: string): void {
  if (!volumes || volumes.length === 0) {
    w.write(0, `${space}Volumes:\t${NONE}\n`);
    return;
  }
  w.write(0, `${space}Volumes:\n`);
  const nameIndent = space ? ' ' : '';
  for (const v of volumes) {
    w.write(1, `${nameIndent}${v.name}:\n`);
    if (v.persistentVolumeClaim) {
      w.write(2, 'Type:\tPersistentVolumeClaim (a reference to a PersistentVolumeClaim in the same namespace)\n');
      w.write(2, `ClaimName:\t${v.persistentVolumeClaim.claimName}\n`);
      w.write(2, 'ReadOnly:\tfalse\n');
    } else if (v.hostPath) {
      w.write(2, 'Type:\tHostPath (bare host directory volume)\n');
      w.write(2, `Path:\t${v.hostPath.path}\n`);
      w.write(2, 'HostPathType:\t\n');
    } else if (v.emptyDir) {
      w.write(2, "Type:\tEmptyDir (a temporary directory that shares a pod's lifetime)\n");
      w.write(2, `Medium:\t${v.emptyDir.medium ?? ''}\n`);
      w.write(2, `SizeLimit:\t${v.emptyDir.sizeLimit ?? '<unset>'}\n`);
    } else if (v.configMap) {
      w.write(2, 'Type:\tConfigMap (a volume populated by a ConfigMap)\n');
      w.write(2, `Name:\t${v.configMap.name}\n`);
      w.write(2, `Optional:\t${v.configMap.optional === true}\n`);
    } else if (v.secret) {
      w.write(2, 'Type:\tSecret (a volume populated by a Secret)\n');
      w.write(2, `SecretName:\t${v.secret.secretName}\n`);
      w.write(2, `Optional:\t${v.secret.optional === true}\n`);
    } else {
      w.write(2, 'Type:\t<unknown>\n');
    }
  }
}

function qosClass(containers: Container[]): string {
  let any = false;
  let guaranteed = true;
  for (const c of containers) {
    const l = c.resources?.limits ?? {};
    const r = c.resources?.requests ?? {};
    if (Object.keys(l).length > 0 || Object.keys(r).length > 0) any = true;
    for (const k of ['cpu', 'memory'] as const) {
      if (l[k] === undefined || (r[k] !== undefined && String(r[k]) !== String(l[k]))) guaranteed = false;
    }
  }
  if (!any) return 'BestEffort';
  return guaranteed ? 'Guaranteed' : 'Burstable';
}

// ---- kinds ----

export function describePod(pod: Pod, events: Event[], now: number): string {
  const w = new PrefixWriter();
  meta(w, pod);
  w.write(0, `Node:\t${pod.spec?.nodeName ? `${pod.spec.nodeName}/${pod.status?.hostIP ?? ''}` : NONE}\n`);
  if (pod.status?.startTime) w.write(0, `Start Time:\t${rfc1123z(pod.status.startTime)}\n`);
  labelsMultiline(w, 'Labels', pod.metadata.labels);
  annotationsMultiline(w, 'Annotations', pod.metadata.annotations);
  const phase = pod.status?.phase ?? 'Unknown';
  if (pod.metadata.deletionTimestamp && phase !== 'Failed' && phase !== 'Succeeded') {
    w.write(0, `Status:\tTerminating (lasts ${since(pod.metadata.deletionTimestamp, now)})\n`);
    w.write(0, `Termination Grace Period:\t${pod.spec?.terminationGracePeriodSeconds ?? 30}s\n`);
  } else {
    w.write(0, `Status:\t${phase}\n`);
  }
  if (pod.status?.reason) w.write(0, `Reason:\t${pod.status.reason}\n`);
  if (pod.status?.message) w.write(0, `Message:\t${pod.status.message}\n`);
  w.write(0, `IP:\t${pod.status?.podIP ?? ''}\n`);
  const ips = pod.status?.podIPs ?? [];
  if (ips.length === 0) w.write(0, `IPs:\t${NONE}\n`);
  else {
    w.write(0, 'IPs:\n');
    for (const ip of ips) w.write(1, `IP:\t${ip.ip}\n`);
  }
  const owner = pod.metadata.ownerReferences?.find((o) => o.controller) ?? pod.metadata.ownerReferences?.[0];
  if (owner) w.write(0, `Controlled By:\t${owner.kind}/${owner.name}\n`);
  if (pod.spec?.initContainers?.length) describeContainers(w, pod.spec.initContainers, pod.status?.initContainerStatuses, pod, '', 'Init Containers');
  describeContainers(w, pod.spec?.containers ?? [], pod.status?.containerStatuses, pod, '');
  const conditions = pod.status?.conditions ?? [];
  if (conditions.length > 0) {
    w.write(0, 'Conditions:\n');
    w.write(1, 'Type\tStatus\n');
    for (const c of conditions) w.write(1, `${c.type} \t${c.status} \n`);
  }
  describeVolumes(w, pod.spec?.volumes, '');
  w.write(0, `QoS Class:\t${qosClass(pod.spec?.containers ?? [])}\n`);
  labelsMultiline(w, 'Node-Selectors', pod.spec?.nodeSelector);
  describeEvents(w, events, now);
  return w.toString();
}

export function podPhaseCounts(pods: Pod[]): { running: number; waiting: number; succeeded: number; failed: number } {
  const n = { running: 0, waiting: 0, succeeded: 0, failed: 0 };
  for (const p of pods) {
    switch (p.status?.phase) {
      case 'Running':
        n.running++;
        break;
      case 'Pending':
        n.waiting++;
        break;
      case 'Succeeded':
        n.succeeded++;
        break;
      case 'Failed':
        n.failed++;
        break;
    }
  }
  return n;
}

/** kubectl's DescribePodTemplate: `Pod Template:` and the template's labels, containers, volumes. */
export function describePodTemplate(w: PrefixWriter, tpl: StatefulSet['spec']['template'] | undefined): void {
  w.write(0, 'Pod Template:\n');
  labelsMultiline(w, 'Labels', tpl?.metadata?.labels, '  ');
  if (Object.keys(tpl?.metadata?.annotations ?? {}).length > 0) annotationsMultiline(w, 'Annotations', tpl?.metadata?.annotations, '  ');
  if (tpl?.spec?.initContainers?.length) describeContainers(w, tpl.spec.initContainers, undefined, undefined, '  ', 'Init Containers');
  describeContainers(w, tpl?.spec?.containers ?? [], undefined, undefined, '  ');
  describeVolumes(w, tpl?.spec?.volumes as PodVolume[] | undefined, '  ');
  labelsMultiline(w, 'Node-Selectors', tpl?.spec?.nodeSelector, '  ');
}

/** `pods` are the set's own pods (controlled by it). */
export function describeStatefulSet(sts: StatefulSet, pods: Pod[], events: Event[], now: number): string {
  const w = new PrefixWriter();
  const spec = sts.spec;
  meta(w, sts);
  w.write(0, `CreationTimestamp:\t${rfc1123z(sts.metadata.creationTimestamp)}\n`);
  w.write(0, `Selector:\t${selectorString(spec?.selector)}\n`);
  labelsMultiline(w, 'Labels', sts.metadata.labels);
  annotationsMultiline(w, 'Annotations', sts.metadata.annotations);
  w.write(0, `Replicas:\t${spec?.replicas ?? 0} desired | ${sts.status?.replicas ?? 0} total\n`);
  const strategy = spec?.updateStrategy;
  w.write(0, `Update Strategy:\t${strategy?.type ?? 'RollingUpdate'}\n`);
  if ((strategy?.type ?? 'RollingUpdate') === 'RollingUpdate') {
    w.write(1, `Partition:\t${strategy?.rollingUpdate?.partition ?? 0}\n`);
    if (strategy?.rollingUpdate?.maxUnavailable !== undefined) w.write(1, `MaxUnavailable:\t${strategy.rollingUpdate.maxUnavailable}\n`);
  }
  w.write(0, `Pod Management Policy:\t${spec?.podManagementPolicy ?? 'OrderedReady'}\n`);
  w.write(0, `Service Name:\t${spec?.serviceName || NONE}\n`);
  const c = podPhaseCounts(pods);
  w.write(0, `Pods Status:\t${c.running} Running / ${c.waiting} Waiting / ${c.succeeded} Succeeded / ${c.failed} Failed\n`);
  describePodTemplate(w, spec?.template);
  const claims = spec?.volumeClaimTemplates ?? [];
  if (claims.length === 0) w.write(0, `Volume Claims:\t${NONE}\n`);
  else {
    w.write(0, 'Volume Claims:\n');
    for (const t of claims) {
      w.write(1, `Name:\t${t.metadata.name}\n`);
      w.write(1, `StorageClass:\t${t.spec?.storageClassName ?? ''}\n`);
      labelsMultiline(w, 'Labels', t.metadata.labels, '  ');
      annotationsMultiline(w, 'Annotations', t.metadata.annotations, '  ');
      const storage = t.spec?.resources?.requests?.storage;
      w.write(1, `Capacity:\t${storage === undefined ? '<default>' : String(storage)}\n`);
      w.write(1, `Access Modes:\t[${(t.spec?.accessModes ?? []).join(' ')}]\n`);
    }
  }
  describeEvents(w, events, now);
  return w.toString();
}

/** Addresses of the pods a service selects, `ip:port` for its first port (kubectl shows at most 3). */
export function serviceEndpoints(svc: Service, pods: Pod[], portIndex = 0): string {
  const port = svc.spec?.ports?.[portIndex];
  const notReady = svc.spec?.publishNotReadyAddresses === true;
  const addrs: string[] = [];
  for (const p of pods) {
    if (!p.status?.podIP || p.metadata.deletionTimestamp) continue;
    const ready = p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
    if (!ready && !notReady) continue;
    if (!port) {
      addrs.push(p.status.podIP);
      continue;
    }
    let target: number | undefined = typeof port.targetPort === 'number' ? port.targetPort : port.targetPort === undefined ? port.port : undefined;
    if (target === undefined) {
      for (const c of p.spec?.containers ?? []) target ??= c.ports?.find((cp) => cp.name === port.targetPort)?.containerPort;
    }
    if (target !== undefined) addrs.push(`${p.status.podIP}:${target}`);
  }
  if (addrs.length === 0) return NONE;
  const shown = addrs.slice(0, 3).join(',');
  return addrs.length > 3 ? `${shown} + ${addrs.length - 3} more...` : shown;
}

/** `pods` are the pods in the service's namespace that its selector matches. */
export function describeService(svc: Service, pods: Pod[], events: Event[], now: number): string {
  const w = new PrefixWriter();
  meta(w, svc);
  labelsMultiline(w, 'Labels', svc.metadata.labels);
  annotationsMultiline(w, 'Annotations', svc.metadata.annotations);
  w.write(0, `Selector:\t${formatLabels(svc.spec?.selector)}\n`);
  w.write(0, `Type:\t${svc.spec?.type ?? 'ClusterIP'}\n`);
  w.write(0, `IP:\t${svc.spec?.clusterIP || 'None'}\n`);
  (svc.spec?.ports ?? []).forEach((p, i) => {
    const proto = p.protocol ?? 'TCP';
    w.write(0, `Port:\t${p.name || '<unset>'}\t${p.port}/${proto}\n`);
    w.write(0, `TargetPort:\t${p.targetPort ?? p.port}/${proto}\n`);
    w.write(0, `Endpoints:\t${serviceEndpoints(svc, pods, i)}\n`);
  });
  if ((svc.spec?.ports ?? []).length === 0) w.write(0, `Endpoints:\t${serviceEndpoints(svc, pods)}\n`);
  w.write(0, `Session Affinity:\t${svc.spec?.sessionAffinity ?? 'None'}\n`);
  if (svc.spec?.publishNotReadyAddresses) w.write(0, 'Publish Not Ready Addresses:\ttrue\n');
  describeEvents(w, events, now);
  return w.toString();
}

/** `pods` are the pods of the claim's namespace; those mounting the claim are listed. */
export function describePvc(pvc: PersistentVolumeClaim, pods: Pod[], events: Event[], now: number): string {
  const w = new PrefixWriter();
  meta(w, pvc);
  w.write(0, `StorageClass:\t${pvc.spec?.storageClassName || 'local-path'}\n`);
  w.write(
    0,
    pvc.metadata.deletionTimestamp
      ? `Status:\tTerminating (lasts ${since(pvc.metadata.deletionTimestamp, now)})\n`
      : `Status:\t${pvc.status?.phase ?? 'Pending'}\n`,
  );
  w.write(0, `Volume:\t${pvc.spec?.hostPath ?? ''}\n`);
  w.write(0, `Node:\t${pvc.spec?.nodeName ?? NONE}\n`);
  labelsMultiline(w, 'Labels', pvc.metadata.labels);
  annotationsMultiline(w, 'Annotations', pvc.metadata.annotations);
  w.write(0, `Finalizers:\t[${(pvc.metadata.finalizers ?? []).join(' ')}]\n`);
  const requested = pvc.spec?.resources?.requests?.storage;
  w.write(0, `Capacity:\t${pvc.status?.capacity?.storage ?? (requested === undefined ? '' : String(requested))}\n`);
  w.write(0, `Access Modes:\t${accessModesShort(pvc.status?.accessModes ?? pvc.spec?.accessModes)}\n`);
  w.write(0, 'VolumeMode:\tFilesystem\n');
  const users = pods
    .filter((p) => ((p.spec?.volumes ?? []) as PodVolume[]).some((v) => v.persistentVolumeClaim?.claimName === pvc.metadata.name))
    .map((p) => p.metadata.name);
  listMultiline(w, 'Used By', users.sort());
  describeEvents(w, events, now);
  return w.toString();
}

/** `pods` are the pods bound to the node. */
export function describeNode(node: Node, pods: Pod[], events: Event[], now: number): string {
  const w = new PrefixWriter();
  const st = node.status;
  w.write(0, `Name:\t${node.metadata.name}\n`);
  w.write(0, `Roles:\t${nodeRoles(node)}\n`);
  labelsMultiline(w, 'Labels', node.metadata.labels);
  annotationsMultiline(w, 'Annotations', node.metadata.annotations);
  w.write(0, `CreationTimestamp:\t${rfc1123z(node.metadata.creationTimestamp)}\n`);
  w.write(0, `Unschedulable:\t${node.spec?.unschedulable ? 'true' : 'false'}\n`);
  const conditions = st?.conditions ?? [];
  if (conditions.length > 0) {
    w.write(0, 'Conditions:\n');
    w.write(1, 'Type\tStatus\tLastHeartbeatTime\tLastTransitionTime\tReason\tMessage\n');
    w.write(1, '----\t------\t-----------------\t------------------\t------\t-------\n');
    for (const c of conditions) {
      w.write(1, `${c.type} \t${c.status} \t${rfc1123z(c.lastHeartbeatTime)} \t${rfc1123z(c.lastTransitionTime)} \t${c.reason ?? ''} \t${c.message ?? ''}\n`);
    }
  }
  w.write(0, 'Addresses:\n');
  for (const a of st?.addresses ?? []) w.write(1, `${a.type}:\t${a.address}\n`);
  for (const [title, list] of [
    ['Capacity', st?.capacity],
    ['Allocatable', st?.allocatable],
  ] as const) {
    if (!list) continue;
    w.write(0, `${title}:\n`);
    for (const k of Object.keys(list).sort()) w.write(1, `${k}:\t${(list as Record<string, string>)[k]}\n`);
  }
  const info = st?.nodeInfo;
  w.write(0, 'System Info:\n');
  w.write(1, `Kernel Version:\t${info?.kernelVersion ?? ''}\n`);
  w.write(1, `OS Image:\t${info?.osImage ?? ''}\n`);
  w.write(1, `Architecture:\t${info?.architecture ?? ''}\n`);
  w.write(1, `Container Runtime Version:\t${info?.containerRuntimeVersion ?? ''}\n`);
  w.write(1, `Kubelet Version:\t${info?.kubeletVersion ?? ''}\n`);
  if (st?.agent) {
    w.write(0, 'Agent:\n');
    w.write(1, `URL:\t${st.agent.url}\n`);
    w.write(1, `Data Dir:\t${st.agent.dataDir}\n`);
  }
  const running = pods.filter((p) => p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed');
  w.write(0, `Non-terminated Pods:\t(${running.length} in total)\n`);
  if (running.length > 0) {
    w.write(1, 'Namespace\tName\tAge\n');
    w.write(1, '---------\t----\t---\n');
    for (const p of running) w.write(1, `${p.metadata.namespace ?? ''}\t${p.metadata.name}\t${since(p.metadata.creationTimestamp, now)}\n`);
  }
  describeEvents(w, events, now);
  return w.toString();
}

export function describeConfigMap(cm: ConfigMap, events: Event[], now: number): string {
  const w = new PrefixWriter();
  meta(w, cm);
  labelsMultiline(w, 'Labels', cm.metadata.labels);
  annotationsMultiline(w, 'Annotations', cm.metadata.annotations);
  // Values are printed as they are, outside the column alignment.
  let data = '\nData\n====\n';
  for (const k of Object.keys(cm.data ?? {}).sort()) data += `${k}:\n----\n${cm.data![k]}\n\n`;
  data += '\nBinaryData\n====\n';
  for (const k of Object.keys(cm.binaryData ?? {}).sort()) data += `${k}: ${Buffer.from(cm.binaryData![k], 'base64').length} bytes\n`;
  data += '\n';
  w.raw(data);
  describeEvents(w, events, now);
  return w.toString();
}

/** Data sizes only: secret values never reach the terminal. */
export function describeSecret(secret: Secret, events: Event[], now: number): string {
  const w = new PrefixWriter();
  meta(w, secret);
  labelsMultiline(w, 'Labels', secret.metadata.labels);
  annotationsMultiline(w, 'Annotations', secret.metadata.annotations);
  w.write(0, `\nType:\t${secret.type || 'Opaque'}\n`);
  w.write(0, '\nData\n====\n');
  for (const k of Object.keys(secret.data ?? {}).sort()) w.write(0, `${k}:\t${Buffer.from(secret.data![k], 'base64').length} bytes\n`);
  w.write(0, '\n');
  describeEvents(w, events, now);
  return w.toString();
}

export function describeRevision(rev: ControllerRevision, events: Event[], now: number): string {
  const w = new PrefixWriter();
  meta(w, rev);
  labelsMultiline(w, 'Labels', rev.metadata.labels);
  const owner = rev.metadata.ownerReferences?.find((r) => r.controller);
  w.write(0, `Controlled By:\t${owner ? `${owner.kind}/${owner.name}` : NONE}\n`);
  w.write(0, `Revision:\t${rev.revision}\n`);
  // The template as YAML, outside the column alignment.
  w.raw(`Data:\n${YAML.stringify(rev.data?.spec ?? {}).replace(/^/gm, '  ')}`);
  describeEvents(w, events, now);
  return w.toString();
}
