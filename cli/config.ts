// Where the CLI finds the controller: flags, then environment, then a config file
// (BERTH_CONFIG, else ~/.berth/config), each field on its own. The file has the same
// format as the controller's <data-dir>/admin.conf: YAML with `server`, `token` and
// `certificate-authority-data` (base64 PEM of the CA to trust, as in a kubeconfig), and with
// several controllers `servers`, the list of all their URLs (docs/ha-clients.md).
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { CliError } from './errors.js';
import { normalizeServer } from '../shared/server-url.js';
import { serverListProblem, splitServerList } from '../shared/failover.js';

export interface Connection {
  /** The first of `servers`. */
  server: string;
  /** Every controller URL, in the order they are tried first. */
  servers: string[];
  token: string;
  /** PEM of the CA to trust for an https server (undefined: the system's CAs). */
  ca?: string;
}

export interface ConfigSources {
  /** --server: repeatable, each a URL or a comma list. */
  flags: { server?: string | string[]; token?: string; certificateAuthority?: string };
  env: Record<string, string | undefined>;
  /** Used when env has no BERTH_CONFIG; usually ~/.berth/config. */
  defaultPath: string;
  readFile?: (path: string) => string;
}

export function defaultConfigPath(home: string = homedir()): string {
  return join(home, '.berth', 'config');
}

function nonEmpty(v: string | undefined): string | undefined {
  return v !== undefined && v.trim() !== '' ? v.trim() : undefined;
}

/** `host:port` becomes `https://host:port`; trailing slashes go (shared/server-url.ts). */
export { normalizeServer };

/**
 * Reads a config file. A missing default file is no error (undefined); a missing file that
 * was named explicitly, or one that is not YAML with string keys, is.
 */
export function readConfigFile(
  path: string,
  explicit: boolean,
  readFile: (p: string) => string,
): { server?: string; servers?: string[]; token?: string; ca?: string } | undefined {
  let text: string;
  try {
    text = readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !explicit) return undefined;
    throw new CliError(`cannot read config file ${path}${explicit ? ' (named by BERTH_CONFIG)' : ''}: ${code ?? (err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new CliError(`config file ${path} is not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new CliError(`config file ${path} must be a mapping with "server" and "token"`);
  const d = doc as Record<string, unknown>;
  for (const k of ['server', 'token']) {
    if (d[k] !== undefined && d[k] !== null && typeof d[k] !== 'string') throw new CliError(`config file ${path}: "${k}" must be a string`);
  }
  const caData = d['certificate-authority-data'];
  if (caData !== undefined && caData !== null && typeof caData !== 'string')
    throw new CliError(`config file ${path}: "certificate-authority-data" must be a string`);
  let ca: string | undefined;
  if (typeof caData === 'string' && caData.trim() !== '') {
    ca = Buffer.from(caData.trim(), 'base64').toString('utf8');
    if (!ca.includes('-----BEGIN CERTIFICATE-----'))
      throw new CliError(`config file ${path}: "certificate-authority-data" must be a base64-encoded PEM certificate`);
  }
  const list = d.servers;
  if (list !== undefined && list !== null && (!Array.isArray(list) || list.some((x) => typeof x !== 'string')))
    throw new CliError(`config file ${path}: "servers" must be a list of controller URLs`);
  const servers = splitServerList([(d.server as string | null) ?? undefined, ...((list as string[] | null) ?? [])]);
  return {
    server: (d.server as string | null) ?? undefined,
    ...(servers.length > 0 ? { servers } : {}),
    token: (d.token as string | null) ?? undefined,
    ...(ca ? { ca } : {}),
  };
}

/** The PEM of --certificate-authority FILE. */
function readCaFile(path: string, readFile: (p: string) => string): string {
  let pem: string;
  try {
    pem = readFile(path);
  } catch (err) {
    throw new CliError(`cannot read --certificate-authority ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new CliError(`--certificate-authority ${path} is not a PEM certificate`);
  return pem;
}

export function resolveConnection(src: ConfigSources): Connection {
  const readFile = src.readFile ?? ((p: string) => readFileSync(p, 'utf8'));
  const flagServers = splitServerList(typeof src.flags.server === 'string' ? [src.flags.server] : (src.flags.server ?? []));
  let servers = flagServers.length > 0 ? flagServers : splitServerList([src.env.BERTH_SERVER]);
  let token = nonEmpty(src.flags.token) ?? nonEmpty(src.env.BERTH_TOKEN);
  const caFile = nonEmpty(src.flags.certificateAuthority) ?? nonEmpty(src.env.BERTH_CERTIFICATE_AUTHORITY);
  let ca = caFile ? readCaFile(caFile, readFile) : undefined;
  let file: string | undefined;
  if (servers.length === 0 || token === undefined) {
    const explicit = nonEmpty(src.env.BERTH_CONFIG);
    file = explicit ?? src.defaultPath;
    const conf = readConfigFile(file, explicit !== undefined, readFile);
    if (servers.length === 0) servers = conf?.servers ?? [];
    token ??= nonEmpty(conf?.token);
    ca ??= conf?.ca;
  }
  const where = `--server/--token, BERTH_SERVER/BERTH_TOKEN, or "server:" and "token:" in ${file ?? src.defaultPath} (BERTH_CONFIG names another file, e.g. the controller's <data-dir>/admin.conf)`;
  if (servers.length === 0 && token === undefined) throw new CliError(`no berth controller configured: set ${where}`);
  if (servers.length === 0) throw new CliError(`no controller address: set ${where}`);
  if (token === undefined) throw new CliError(`no token for ${servers.join(', ')}: set ${where}`);
  const urls = [...new Set(servers.map(normalizeServer))];
  const problem = serverListProblem(urls);
  if (problem) throw new CliError(`invalid controller address: ${problem}`);
  return { server: urls[0], servers: urls, token, ...(ca ? { ca } : {}) };
}
