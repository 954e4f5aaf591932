// `berth describe KIND [NAME...]`: kubectl-like text, always closed by the object's events.
import type { ApiClient } from '../../shared/client.js';
import { resourcePath, RESOURCES } from '../../shared/resources.js';
import type { AnyObject, ConfigMap, Event, Node, PersistentVolumeClaim, Pod, Secret, Service, StatefulSet } from '../../shared/types.js';
import { clientFor, err, out, type Globals } from '../context.js';
import { CliError, errorLines, SilentFailure } from '../errors.js';
import {
  describeConfigMap,
  describeNode,
  describePod,
  describePvc,
  describeRevision,
  describeSecret,
  describeService,
  describeStatefulSet,
  selectorString,
} from '../describe.js';
import { formatLabels, sortObjects } from '../format.js';
import { checkSelector, noResourcesMessage } from './get.js';
import { parseTargets } from '../targets.js';

export interface DescribeOptions {
  selector?: string;
  allNamespaces?: boolean;
}

const pods = RESOURCES.find((r) => r.kind === 'Pod')!;
const events = RESOURCES.find((r) => r.kind === 'Event')!;

async function eventsFor(client: ApiClient, obj: AnyObject): Promise<Event[]> {
  // The uid keeps events of an earlier object of the same name (a re-created pod) out.
  const query = { fieldSelector: `involvedObject.name=${obj.metadata.name},involvedObject.kind=${obj.kind},involvedObject.uid=${obj.metadata.uid}` };
  const list = await client.list<Event>(resourcePath(events, obj.metadata.namespace), query);
  // Events of cluster-scoped objects may live in any namespace; those of others only in theirs.
  return (list.items ?? []).filter(
    (e) => obj.metadata.namespace === undefined || (e.involvedObject?.namespace ?? e.metadata.namespace) === obj.metadata.namespace,
  );
}

async function listPods(client: ApiClient, namespace: string | undefined, query: Record<string, string | undefined> = {}): Promise<Pod[]> {
  return sortObjects((await client.list<Pod>(resourcePath(pods, namespace), query)).items ?? []);
}

/** The text for one object, fetching what its describer needs besides the object. */
export async function describeObject(client: ApiClient, obj: AnyObject, now = Date.now()): Promise<string> {
  const ev = await eventsFor(client, obj);
  const ns = obj.metadata.namespace;
  switch (obj.kind) {
    case 'Pod':
      return describePod(obj, ev, now);
    case 'StatefulSet': {
      const sts = obj as StatefulSet;
      const sel = selectorString(sts.spec?.selector);
      const candidates = sel ? await listPods(client, ns, { labelSelector: sel }) : [];
      const own = candidates.filter((p) => p.metadata.ownerReferences?.some((o) => o.controller && o.uid === sts.metadata.uid));
      return describeStatefulSet(sts, own, ev, now);
    }
    case 'Service': {
      const svc = obj as Service;
      const sel = svc.spec?.selector && Object.keys(svc.spec.selector).length > 0 ? formatLabels(svc.spec.selector) : undefined;
      return describeService(svc, sel ? await listPods(client, ns, { labelSelector: sel }) : [], ev, now);
    }
    case 'PersistentVolumeClaim':
      return describePvc(obj as PersistentVolumeClaim, await listPods(client, ns), ev, now);
    case 'Node':
      return describeNode(obj as Node, await listPods(client, undefined, { fieldSelector: `spec.nodeName=${obj.metadata.name}` }), ev, now);
    case 'ConfigMap':
      return describeConfigMap(obj as ConfigMap, ev, now);
    case 'Secret':
      return describeSecret(obj as Secret, ev, now);
    case 'ControllerRevision':
      return describeRevision(obj, ev, now);
    case 'Event':
      throw new CliError('describe does not support events; use "berth get events"');
  }
}

export async function describe(args: string[], opts: DescribeOptions, g: Globals): Promise<void> {
  checkSelector(opts.selector);
  const targets = parseTargets(args);
  if (targets.some((t) => t.resource.kind === 'Event')) throw new CliError('describe does not support events; use "berth get events"');
  const client = clientFor(g);
  const all = opts.allNamespaces === true;
  const texts: string[] = [];
  const errors: unknown[] = [];
  for (const t of targets) {
    const ns = t.resource.namespaced && !all ? g.namespace : undefined;
    let objects: AnyObject[] = [];
    if (t.names.length === 0) {
      objects = sortObjects((await client.list<AnyObject>(resourcePath(t.resource, ns), { labelSelector: opts.selector })).items ?? []);
      if (objects.length === 0) err(noResourcesMessage(t, g.namespace, all) + '\n');
    } else {
      for (const name of t.names) {
        try {
          objects.push(await client.get<AnyObject>(resourcePath(t.resource, ns, name)));
        } catch (e) {
          errors.push(e);
        }
      }
    }
    for (const o of objects) texts.push(await describeObject(client, o));
  }
  out(texts.join('\n\n'));
  if (errors.length > 0) {
    for (const e of errors) for (const line of errorLines(e)) err(line + '\n');
    throw new SilentFailure();
  }
}
