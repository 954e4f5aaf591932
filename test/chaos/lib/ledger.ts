// Data the chaos suite watches: a StatefulSet whose pods write into their volumes (a file of
// random bytes written once, then a log of lines appended with a sync after each), and checksums
// of what was acknowledged. Acknowledged = on the volume when `snapshot` read it (each line was
// synced by the pod before it wrote the next). After a fault, `compare` says how many of those
// bytes are missing or changed.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Pod } from '../../../shared/types.js';
import type { HostCluster } from '../../helpers/hosts.js';

export interface LedgerSetOptions {
  name: string;
  replicas: number;
  /** Extra lines under `spec:` (indented two spaces). */
  spec?: string;
  annotations?: Record<string, string>;
  /** Seconds between two appended lines. */
  everySeconds?: number;
  /** Changes the pod template (a rolling update) without changing what the pods write. */
  revision?: string;
}

/**
 * Pods that write `fixed` (64 KiB of random bytes, once, renamed into place after a sync) and
 * append `<hostname> <n>` lines to `log`, syncing after each. Ready once `fixed` exists.
 * Backquotes, not `$(...)`: command lines go through Kubernetes' `$(VAR)` expansion.
 */
export function ledgerSet(o: LedgerSetOptions): string {
  const annotations = Object.entries(o.annotations ?? {});
  const script = [
    "trap 'exit 0' TERM",
    'h=`hostname`',
    '[ -f /data/fixed ] || { head -c 65536 /dev/urandom > /data/fixed.tmp && sync && mv /data/fixed.tmp /data/fixed && sync; }',
    'i=`cat /data/log 2>/dev/null | wc -l`',
    `while true; do i=\`expr $i + 1\`; echo "$h $i" >> /data/log && sync; sleep ${o.everySeconds ?? 0.5} & wait $!; done`,
  ];
  return [
    'apiVersion: apps/v1',
    'kind: StatefulSet',
    'metadata:',
    `  name: ${o.name}`,
    ...(annotations.length > 0 ? ['  annotations:', ...annotations.map(([k, v]) => `    ${k}: ${JSON.stringify(v)}`)] : []),
    'spec:',
    `  replicas: ${o.replicas}`,
    `  serviceName: ${o.name}`,
    ...(o.spec ? [o.spec] : []),
    `  selector: {matchLabels: {app: ${o.name}}}`,
    '  template:',
    '    metadata:',
    `      labels: {app: ${o.name}}`,
    ...(o.revision ? [`      annotations: {chaos/revision: "${o.revision}"}`] : []),
    '    spec:',
    '      terminationGracePeriodSeconds: 2',
    '      containers:',
    '        - name: main',
    '          image: berth.local/busybox:1',
    '          imagePullPolicy: Never',
    '          command:',
    '            - sh',
    '            - -c',
    '            - |',
    ...script.map((l) => `              ${l}`),
    '          readinessProbe:',
    '            exec: {command: ["sh", "-c", "test -f /data/fixed"]}',
    '            periodSeconds: 1',
    '          volumeMounts: [{name: data, mountPath: /data}]',
    '  volumeClaimTemplates:',
    '    - metadata: {name: data}',
    '',
  ].join('\n');
}

/** Where a pod's `data` volume lives on its host (the agent's data dir, volumes/<ns>/<claim>). */
export function volumeDir(c: HostCluster, pod: Pod): string {
  const node = pod.spec.nodeName;
  if (!node) throw new Error(`${pod.metadata.name} is bound to no node`);
  return join(c.host(node).dataDir, 'volumes', pod.metadata.namespace ?? 'default', `data-${pod.metadata.name}`);
}

export interface Acked {
  pod: string;
  node: string;
  fixedSha: string;
  fixedBytes: number;
  /** The log as it was read: every byte of it counts as acknowledged. */
  log: Buffer;
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Reads what each pod has acknowledged so far, from its volume on its host. */
export function snapshot(c: HostCluster, pods: Pod[]): Map<string, Acked> {
  const out = new Map<string, Acked>();
  for (const p of pods) {
    const dir = volumeDir(c, p);
    const fixedPath = join(dir, 'fixed');
    if (!existsSync(fixedPath)) throw new Error(`${p.metadata.name} has not written ${fixedPath} yet`);
    const fixed = readFileSync(fixedPath);
    const log = existsSync(join(dir, 'log')) ? readFileSync(join(dir, 'log')) : Buffer.alloc(0);
    out.set(p.metadata.name, { pod: p.metadata.name, node: p.spec.nodeName!, fixedSha: sha(fixed), fixedBytes: fixed.length, log });
  }
  return out;
}

export interface Loss {
  pod: string;
  /** Acknowledged bytes missing or changed (fixed file: all of it when its checksum differs). */
  bytesLost: number;
  detail: string;
}

function commonPrefix(a: Buffer, b: Buffer): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

/** Pure comparison of what was acknowledged with what a volume holds now. */
export function lossOf(before: Acked, fixedNow: Buffer | undefined, logNow: Buffer | undefined): Loss {
  const parts: string[] = [];
  let lost = 0;
  if (!fixedNow || sha(fixedNow) !== before.fixedSha) {
    lost += before.fixedBytes;
    parts.push(fixedNow ? 'fixed: checksum differs' : 'fixed: missing');
  }
  const kept = logNow ? commonPrefix(before.log, logNow) : 0;
  if (kept < before.log.length) {
    lost += before.log.length - kept;
    parts.push(`log: ${before.log.length - kept} of ${before.log.length} acknowledged bytes missing or changed`);
  }
  return { pod: before.pod, bytesLost: lost, detail: parts.join('; ') || 'intact' };
}

/** Compares each pod's acknowledged data with its volume now (on the host it is bound to now). */
export function compare(c: HostCluster, before: Map<string, Acked>, podsNow: Pod[]): Loss[] {
  return [...before.values()].map((b) => {
    const p = podsNow.find((x) => x.metadata.name === b.pod);
    if (!p?.spec.nodeName) return { pod: b.pod, bytesLost: b.fixedBytes + b.log.length, detail: 'pod or binding gone' };
    const dir = volumeDir(c, p);
    const read = (f: string) => (existsSync(join(dir, f)) ? readFileSync(join(dir, f)) : undefined);
    return lossOf(b, read('fixed'), read('log'));
  });
}

/** The log has grown past what was acknowledged: the pod writes again. */
export function logGrew(c: HostCluster, before: Acked, pod: Pod): boolean {
  const f = join(volumeDir(c, pod), 'log');
  return existsSync(f) && readFileSync(f).length > before.log.length;
}
