// The error every step that turns a pod spec into a container raises when the spec (or an
// object it refers to) cannot be used: the container waits with CreateContainerConfigError.

/** A pod spec that cannot be turned into a container (bad volume, quantity, subPath, missing ConfigMap or Secret). */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Something the user should hear about that does not stop the container (becomes a Warning event). */
export interface ConfigWarning {
  reason: string;
  message: string;
}
