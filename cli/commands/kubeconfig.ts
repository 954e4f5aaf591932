// `berth config kubeconfig`: the connection the CLI uses (flags, BERTH_* variables, the config
// file, usually the controller's admin.conf) as a kubeconfig for kubectl, Helm and the
// Kubernetes client libraries (docs/kubectl.md).
//
// A kubeconfig cluster has exactly one `server`. With several controllers the first URL is the
// cluster of the current context; every other one gets a cluster and a context of its own
// (`<context>-2`, `<context>-3`, ...) for `kubectl --context`, and the whole list rides along in
// the first cluster's extension `berth.io/servers`, which kubectl keeps but does not read.
import YAML from 'yaml';
import { writeSecretFile } from '../../shared/file-modes.js';
import type { Connection } from '../config.js';
import { defaultConfigPath, resolveConnection } from '../config.js';
import { out, type Globals } from '../context.js';
import { CliError } from '../errors.js';
import { dnsLabelProblem } from '../../shared/naming.js';

export interface KubeconfigOptions {
  /** Name of the context, its cluster and its user (default berth). */
  context?: string;
  /** FILE to write (mode 0600, replaced whole); undefined or '-': stdout. */
  output?: string;
}

export const DEFAULT_CONTEXT = 'berth';
/** Name of the cluster extension that lists every controller URL. */
export const SERVERS_EXTENSION = 'berth.io/servers';

/** A context name is taken as given by kubectl; berth asks for something a shell and a file name survive. */
export function contextNameProblem(name: string): string | undefined {
  if (name === '') return 'invalid --context "": must not be empty';
  if (name.length > 253) return `invalid --context "${name.slice(0, 20)}...": at most 253 characters`;
  if (!/^[A-Za-z0-9][A-Za-z0-9._@:-]*$/.test(name)) return `invalid --context "${name}": letters, digits and . _ @ : - only, starting with a letter or digit`;
  return undefined;
}

interface KubeCluster {
  name: string;
  cluster: {
    server: string;
    'certificate-authority-data'?: string;
    extensions?: { name: string; extension: { servers: string[] } }[];
  };
}

/** The kubeconfig (apiVersion v1, kind Config) of `conn`, as an object. */
export function kubeconfigOf(conn: Connection, opts: { context?: string; namespace?: string } = {}) {
  const name = opts.context ?? DEFAULT_CONTEXT;
  const problem = contextNameProblem(name);
  if (problem) throw new CliError(problem);
  const ca = conn.ca ? { 'certificate-authority-data': Buffer.from(conn.ca, 'utf8').toString('base64') } : {};
  const names = conn.servers.map((_, i) => (i === 0 ? name : `${name}-${i + 1}`));
  const clusters: KubeCluster[] = conn.servers.map((server, i) => ({
    name: names[i],
    cluster: {
      server,
      ...ca,
      ...(conn.servers.length > 1 && i === 0 ? { extensions: [{ name: SERVERS_EXTENSION, extension: { servers: [...conn.servers] } }] } : {}),
    },
  }));
  return {
    apiVersion: 'v1',
    kind: 'Config',
    preferences: {},
    clusters,
    users: [{ name, user: { token: conn.token } }],
    contexts: names.map((n) => ({ name: n, context: { cluster: n, user: name, ...(opts.namespace ? { namespace: opts.namespace } : {}) } })),
    'current-context': name,
  };
}

/** The kubeconfig of `conn` as YAML, with a comment saying what it holds. */
export function renderKubeconfig(conn: Connection, opts: { context?: string; namespace?: string } = {}): string {
  const doc = kubeconfigOf(conn, opts);
  const lines = [`# kubeconfig of the berth cluster at ${conn.server} (berth config kubeconfig).`, '# It holds a bearer token: keep it private.'];
  if (doc.contexts.length > 1) {
    lines.push('# One context per controller; the current one uses the first:');
    for (const c of doc.clusters) lines.push(`#   ${c.name}: ${c.cluster.server}`);
  }
  return `${lines.join('\n')}\n${YAML.stringify(doc, { lineWidth: 0 })}`;
}

export async function configKubeconfig(opts: KubeconfigOptions, g: Globals): Promise<void> {
  const name = opts.context ?? DEFAULT_CONTEXT;
  const problem = contextNameProblem(name);
  if (problem) throw new CliError(problem);
  const nsProblem = g.namespaceExplicit ? dnsLabelProblem(g.namespace) : undefined;
  if (nsProblem) throw new CliError(`invalid --namespace "${g.namespace}": ${nsProblem}`);
  const conn = resolveConnection({
    flags: { server: g.server, token: g.token, certificateAuthority: g.certificateAuthority },
    env: process.env,
    defaultPath: defaultConfigPath(),
  });
  const text = renderKubeconfig(conn, { context: name, ...(g.namespaceExplicit ? { namespace: g.namespace } : {}) });
  if (opts.output === undefined || opts.output === '-') {
    out(text);
    return;
  }
  if (opts.output.trim() === '') throw new CliError('invalid --output "": name a file, or - for stdout');
  try {
    writeSecretFile(opts.output, text);
  } catch (err) {
    throw new CliError(`cannot write --output ${opts.output}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  out(`kubeconfig for ${conn.server} written to ${opts.output} (KUBECONFIG=${opts.output} kubectl get pods)\n`);
}
