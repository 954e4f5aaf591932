// `berth delete -f FILE` / `berth delete KIND NAME... [--cascade=orphan|background]
// [--ignore-not-found] [--wait=false]`
import type { ApiClient } from '../../shared/client.js';
import { queryString } from '../../shared/client.js';
import { resourceForKind, resourcePath, type ResourceInfo } from '../../shared/resources.js';
import { PVC_PROTECTION, type AnyObject, type PersistentVolumeClaim } from '../../shared/types.js';
import { clientFor, err, out, type Globals } from '../context.js';
import { parseBool, parseTimeout } from '../flags.js';
import { CliError, errorLines, isNotFound, SilentFailure } from '../errors.js';
import { resourceName, sortObjects } from '../format.js';
import { parseTargets } from '../targets.js';
import { loadOrFail } from '../manifest-input.js';
import { checkSelector } from './get.js';

export interface DeleteOptions {
  filename?: string[];
  selector?: string;
  all?: boolean;
  cascade?: string | boolean;
  ignoreNotFound?: boolean;
  wait?: string | boolean;
  timeout?: string;
}

interface Victim {
  resource: ResourceInfo;
  namespace?: string;
  name: string;
}

export function propagationPolicy(cascade: string | boolean | undefined): 'Background' | 'Orphan' {
  const v = typeof cascade === 'boolean' ? String(cascade) : (cascade ?? 'background').toLowerCase();
  if (v === 'background' || v === 'true') return 'Background';
  if (v === 'orphan' || v === 'false') return 'Orphan';
  if (v === 'foreground') throw new CliError('--cascade=foreground is not supported by berth; use background or orphan');
  throw new CliError(`invalid --cascade value "${v}": must be "background" or "orphan"`);
}

export function deletedLine(kind: string, name: string): string {
  return `${resourceName(kind)} "${name}" deleted\n`;
}

async function victims(opts: DeleteOptions, args: string[], g: Globals, client: () => ApiClient): Promise<Victim[]> {
  if (opts.filename && opts.filename.length > 0) {
    if (args.length > 0) throw new CliError('cannot name resources together with -f');
    const { objects } = await loadOrFail(opts.filename, g, 'delete');
    return objects.map((o) => ({ resource: resourceForKind(o.kind)!, namespace: o.metadata.namespace, name: o.metadata.name }));
  }
  const targets = parseTargets(args);
  const out: Victim[] = [];
  for (const t of targets) {
    const ns = t.resource.namespaced ? g.namespace : undefined;
    if (t.names.length > 0) {
      if (opts.selector || opts.all) throw new CliError('names cannot be combined with --selector or --all');
      for (const name of t.names) out.push({ resource: t.resource, namespace: ns, name });
      continue;
    }
    if (!opts.selector && !opts.all) throw new CliError(`resource(s) were provided, but no name was specified: name them, or use -l SELECTOR or --all`);
    const list = await client().list<AnyObject>(resourcePath(t.resource, ns), { labelSelector: opts.selector });
    for (const o of sortObjects(list.items ?? [])) out.push({ resource: t.resource, namespace: o.metadata.namespace, name: o.metadata.name });
  }
  return out;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Waits until the object is gone, or replaced by a new one of the same name (another uid). */
async function waitGone(client: ApiClient, v: Victim, uid: string | undefined, deadline: number): Promise<void> {
  for (;;) {
    try {
      const cur = await client.get<AnyObject>(resourcePath(v.resource, v.namespace, v.name));
      if (cur.metadata.uid !== uid) return;
    } catch (e) {
      if (isNotFound(e)) return;
      throw e;
    }
    if (deadline > 0 && Date.now() > deadline) throw new CliError(`timed out waiting for the deletion of ${v.resource.plural}/${v.name}`);
    await sleep(500);
  }
}

/** A claim pods still use stays Terminating (pvc-protection): say so, as waiting may take long. */
async function notePvcInUse(c: ApiClient, path: string, name: string, wait: boolean): Promise<void> {
  const cur = await c.get<PersistentVolumeClaim>(path).catch(() => undefined);
  if (!cur?.metadata.finalizers?.includes(PVC_PROTECTION)) return;
  err(
    `persistentvolumeclaim "${name}" is in use by pods (see \`berth describe pvc ${name}\`): it is Terminating, and it and its data are removed once no pod uses it${wait ? '; waiting (Ctrl-C or --wait=false to stop waiting)' : ''}\n`,
  );
}

export async function del(args: string[], opts: DeleteOptions, g: Globals): Promise<void> {
  checkSelector(opts.selector);
  const policy = propagationPolicy(opts.cascade);
  const wait = parseBool('--wait', opts.wait, true);
  const timeoutMs = parseTimeout(opts.timeout);
  let client: ApiClient | undefined;
  const getClient = () => (client ??= clientFor(g));
  const list = await victims(opts, args, g, getClient);
  if (list.length === 0 && !opts.filename?.length) {
    err('No resources found\n');
    return;
  }
  const errors: unknown[] = [];
  const pending: { v: Victim; uid?: string }[] = [];
  for (const v of list) {
    const c = getClient();
    const path = resourcePath(v.resource, v.namespace, v.name);
    try {
      // The uid tells a replacement of the same name (a set recreating its pod) from the original.
      const uid = wait ? (await c.get<AnyObject>(path)).metadata.uid : undefined;
      await c.request<unknown>('DELETE', path + queryString({ propagationPolicy: policy }));
      out(deletedLine(v.resource.kind, v.name));
      if (v.resource.kind === 'PersistentVolumeClaim') await notePvcInUse(c, path, v.name, wait);
      pending.push({ v, uid });
    } catch (e) {
      if (isNotFound(e) && opts.ignoreNotFound) continue;
      errors.push(e);
    }
  }
  if (wait) {
    const deadline = timeoutMs > 0 ? Date.now() + timeoutMs : 0;
    for (const p of pending) {
      try {
        await waitGone(getClient(), p.v, p.uid, deadline);
      } catch (e) {
        errors.push(e);
      }
    }
  }
  if (errors.length > 0) {
    for (const e of errors) for (const line of errorLines(e)) err(line + '\n');
    throw new SilentFailure();
  }
}
