// Pod security levels, after Kubernetes' Pod Security Standards: `privileged` allows
// everything; `baseline` refuses the known privilege escalations of PSS Baseline (host
// namespaces, privileged containers, capabilities beyond Baseline's list, host ports, hostPath
// volumes). berth's one extension: hostPath volumes below --allowed-host-paths. The checks read
// the template as the user wrote it, so a field berth otherwise ignores (hostPID,
// securityContext, ...) is refused too rather than warned about. See docs/security.md.
import { posix } from 'node:path';
import type { FieldPath, Problem } from './validate.js';

export const POD_SECURITY_LEVELS = ['baseline', 'privileged'] as const;
export type PodSecurityLevel = (typeof POD_SECURITY_LEVELS)[number];

export interface PodSecurityPolicy {
  level: PodSecurityLevel;
  /** Absolute, normalised host directories whose subtrees hostPath volumes may use under baseline. */
  allowedHostPaths: string[];
}

export const PRIVILEGED_POLICY: PodSecurityPolicy = { level: 'privileged', allowedHostPaths: [] };

/** Capabilities PSS Baseline lets a container add (Docker's default set minus NET_RAW). */
export const BASELINE_CAPABILITIES = new Set([
  'AUDIT_WRITE',
  'CHOWN',
  'DAC_OVERRIDE',
  'FOWNER',
  'FSETID',
  'KILL',
  'MKNOD',
  'NET_BIND_SERVICE',
  'SETFCAP',
  'SETGID',
  'SETPCAP',
  'SETUID',
  'SYS_CHROOT',
]);

/** Checks and normalises --allowed-host-paths entries; throws naming a bad one. */
export function parseAllowedHostPaths(list: string[]): string[] {
  return list
    .flatMap((x) => x.split(','))
    .map((x) => x.trim())
    .filter((x) => x !== '')
    .map((p) => {
      if (!p.startsWith('/')) throw new Error(`invalid --allowed-host-paths entry "${p}": must be an absolute path`);
      const n = posix.normalize(p).replace(/\/+$/, '') || '/';
      if (n === '/') throw new Error('invalid --allowed-host-paths entry "/": allowing the whole host file system is --pod-security privileged');
      return n;
    });
}

/** Whether `path` is one of `allowed` or below one (compared after normalising ".." and "//"). */
export function hostPathAllowed(path: string, allowed: string[]): boolean {
  const p = posix.normalize(path).replace(/\/+$/, '') || '/';
  return allowed.some((a) => p === a || p.startsWith(`${a}/`));
}

type Raw = Record<string, unknown>;
const obj = (v: unknown): Raw | undefined => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Raw) : undefined);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/**
 * What a pod template spec (as written, before validation) does that `policy` forbids, with
 * paths below `prefix` (e.g. spec.template.spec). Nothing under `privileged`.
 */
export function podSecurityProblems(rawSpec: unknown, policy: PodSecurityPolicy, prefix: FieldPath): Problem[] {
  if (policy.level === 'privileged') return [];
  const spec = obj(rawSpec);
  if (!spec) return [];
  const out: Problem[] = [];
  const refuse = (path: FieldPath, message: string) => out.push({ path: [...prefix, ...path], message: `${message} (pod security level baseline)` });
  for (const f of ['hostNetwork', 'hostPID', 'hostIPC']) {
    if (spec[f] === true)
      refuse([f], "must not be true: sharing the host's namespaces is forbidden; start the controller with --pod-security privileged to allow it");
  }
  arr(spec.volumes).forEach((v, i) => {
    const hp = obj(obj(v)?.hostPath);
    if (!hp) return;
    const path = typeof hp.path === 'string' ? hp.path : '';
    if (!hostPathAllowed(path, policy.allowedHostPaths)) {
      refuse(
        ['volumes', i, 'hostPath', 'path'],
        policy.allowedHostPaths.length === 0
          ? `"${path}" is forbidden: hostPath volumes are not allowed (the controller's --allowed-host-paths is empty)`
          : `"${path}" is forbidden: hostPath volumes must be below ${policy.allowedHostPaths.join(', ')} (--allowed-host-paths)`,
      );
    }
  });
  for (const field of ['initContainers', 'containers', 'ephemeralContainers']) {
    arr(spec[field]).forEach((c, ci) => {
      const sc = obj(obj(c)?.securityContext);
      if (sc?.privileged === true) refuse([field, ci, 'securityContext', 'privileged'], 'must not be true: privileged containers are forbidden');
      arr(obj(sc?.capabilities)?.add).forEach((cap, k) => {
        const name = String(cap).toUpperCase().replace(/^CAP_/, '');
        if (!BASELINE_CAPABILITIES.has(name))
          refuse(
            [field, ci, 'securityContext', 'capabilities', 'add', k],
            `"${String(cap)}" is forbidden: only ${[...BASELINE_CAPABILITIES].join(', ')} may be added`,
          );
      });
      arr(obj(c)?.ports).forEach((p, pi) => {
        const hostPort = obj(p)?.hostPort;
        if (hostPort !== undefined && hostPort !== null && hostPort !== 0)
          refuse([field, ci, 'ports', pi, 'hostPort'], 'must be unset or 0: host ports are forbidden');
      });
    });
  }
  return out;
}
