// Files of a pod the agent writes in the pod's directory: its resolv.conf and its address.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { writeFileDurable } from '../../../shared/fs-durable.js';
import { parseResolvConf, type ResolvConf } from '../resolv.js';

export const RESOLV_FILE = 'resolv.conf';
export const POD_IP_FILE = 'pod-ip';

/**
 * The host's resolv.conf; with only loopback nameservers (systemd-resolved's stub), the one
 * behind it, as Docker does for its containers.
 */
export async function readHostResolvConf(): Promise<ResolvConf> {
  const main = parseResolvConf(await fs.readFile('/etc/resolv.conf', 'utf8').catch(() => ''));
  if (main.nameservers.some((n) => !n.startsWith('127.') && n !== '::1')) return main;
  const resolved = await fs.readFile('/run/systemd/resolve/resolv.conf', 'utf8').catch(() => undefined);
  return resolved === undefined ? main : parseResolvConf(resolved);
}

/** Writes a file only when its content changed (write and rename: readers never see half of it). */
export async function writeIfChanged(file: string, text: string): Promise<void> {
  const old = await fs.readFile(file, 'utf8').catch(() => undefined);
  if (old === text) return;
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o755 });
  await writeFileDurable(file, text, 0o644);
}
