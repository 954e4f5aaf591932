// Environment variables from ConfigMaps and Secrets (envFrom, configMapKeyRef, secretKeyRef),
// with the kubelet's rules: a missing object or key fails the container unless the reference
// is optional, in which case the variable is simply not set; envFrom keys that are not valid
// variable names are skipped with a warning.
import type { Container } from '../../shared/manifest/schema.js';
import { ConfigError, type ConfigWarning } from './errors.js';
import type { ConfigSources } from './sources.js';

const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

/** Kubernetes' IsEnvVarName: `[-._a-zA-Z][-._a-zA-Z0-9]*`, and not `.`, `..` or `..`-prefixed. */
export function isEnvVarName(name: string): boolean {
  return ENV_NAME.test(name) && !name.startsWith('..') && name !== '.';
}

type KeyRef = { name: string; key: string; optional?: boolean | undefined };

/** Value of a configMapKeyRef or secretKeyRef; undefined when optional and missing (the variable is left out). */
export function keyRefValue(kind: 'configMap' | 'secret', ref: KeyRef, sources: ConfigSources, namespace: string, envName: string): string | undefined {
  const optional = ref.optional === true;
  if (kind === 'configMap') {
    const cm = sources.configMaps[ref.name];
    if (!cm) {
      if (optional) return undefined;
      throw new ConfigError(`configmap "${ref.name}" not found (env ${envName} needs its key "${ref.key}")`);
    }
    const v = cm.data?.[ref.key];
    if (v === undefined) {
      if (optional) return undefined;
      throw new ConfigError(`couldn't find key ${ref.key} in ConfigMap ${namespace}/${ref.name} (env ${envName})`);
    }
    return v;
  }
  const secret = sources.secrets[ref.name];
  if (!secret) {
    if (optional) return undefined;
    throw new ConfigError(`secret "${ref.name}" not found (env ${envName} needs its key "${ref.key}")`);
  }
  const v = secret.data?.[ref.key];
  if (v === undefined) {
    if (optional) return undefined;
    throw new ConfigError(`couldn't find key ${ref.key} in Secret ${namespace}/${ref.name} (env ${envName})`);
  }
  return Buffer.from(v, 'base64').toString('utf8');
}

/**
 * The variables of a container's envFrom, in order (a later source overrides an earlier one),
 * keys sorted within a source. Values are not `$(VAR)`-expanded, as in Kubernetes.
 */
export function envFromVars(c: Pick<Container, 'envFrom'>, sources: ConfigSources, namespace: string): { vars: [string, string][]; warnings: ConfigWarning[] } {
  const vars: [string, string][] = [];
  const warnings: ConfigWarning[] = [];
  for (const src of c.envFrom ?? []) {
    const prefix = src.prefix ?? '';
    let entries: [string, string][];
    let what: string;
    if (src.configMapRef) {
      const { name } = src.configMapRef;
      what = `configMap ${namespace}/${name}`;
      const cm = sources.configMaps[name];
      if (!cm) {
        if (src.configMapRef.optional === true) continue;
        throw new ConfigError(`configmap "${name}" not found (envFrom)`);
      }
      entries = Object.entries(cm.data ?? {});
    } else if (src.secretRef) {
      const { name } = src.secretRef;
      what = `secret ${namespace}/${name}`;
      const secret = sources.secrets[name];
      if (!secret) {
        if (src.secretRef.optional === true) continue;
        throw new ConfigError(`secret "${name}" not found (envFrom)`);
      }
      entries = Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]);
    } else {
      continue;
    }
    const invalid: string[] = [];
    for (const [key, value] of entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      const name = prefix + key;
      if (!isEnvVarName(name)) {
        invalid.push(name);
        continue;
      }
      vars.push([name, value]);
    }
    if (invalid.length > 0) {
      warnings.push({
        reason: 'InvalidEnvironmentVariableNames',
        message: `Keys [${invalid.sort().join(', ')}] from the EnvFrom ${what} were skipped since they are considered invalid environment variable names.`,
      });
    }
  }
  return { vars, warnings };
}
