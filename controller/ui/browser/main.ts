// The status page (docs/ui.md): log in with a token, then the cluster, a set, a node and the
// events, kept current by list+watch informers (api.ts); actions for the admin token, each
// confirmed first, making the same API calls as the CLI.
import type { Event, Node, Pod, StatefulSet } from '../../../shared/types.js';
import { Api, ApiFailure, forgetToken, Informer, saveToken, savedToken } from './api.js';
import { h, VirtualGrid, VirtualList } from './dom.js';
import {
  age,
  claimsOf,
  type Column,
  clusterColumns,
  clusterSummary,
  filterEvents,
  heartbeatText,
  keyOf,
  moveProblem,
  nodeState,
  ordinalOf,
  podProblem,
  podReady,
  podState,
  podsOfSet,
  restarts,
  revisionOf,
  rollout,
  setOf,
} from './model.js';

const enc = encodeURIComponent;
const root = document.getElementById('app') as HTMLElement;

interface Session {
  api: Api;
  role: string;
  pods: Informer<Pod>;
  nodes: Informer<Node>;
  sets: Informer<StatefulSet>;
  events: Informer<Event>;
  /** Bumped on every change: views recompute what they derive only when it moved. */
  version: number;
  eventsStarted: boolean;
}

let session: Session | undefined;
let view: { render(): void; dispose?(): void } | undefined;
let frame = 0;

/** What the last render cost (ms) and when it ended: renders are spaced by four times their cost. */
let renderCost = 0;
let renderedAt = 0;

/**
 * Renders the current view on the next frame (many watch events, one render). A render that
 * recomputes over 10,000 pods costs milliseconds, so under a steady stream of changes (1,000
 * nodes' heartbeats) renders are spaced to keep the page's share of the CPU near a fifth;
 * scrolling draws the rows and columns in view at once, without waiting for this.
 */
function schedule(): void {
  if (frame) return;
  frame = -1;
  const wait = Math.max(0, renderedAt + renderCost * 4 - performance.now());
  setTimeout(() => {
    frame = requestAnimationFrame(() => {
      frame = 0;
      const started = performance.now();
      view?.render();
      renderedAt = performance.now();
      renderCost = renderedAt - started;
    });
  }, wait);
}

function changed(): void {
  if (session) {
    session.version++;
    // Events (often the longest list) are listed once nodes and pods arrived: they do not hold
    // up the first drawing of the cluster.
    const s = session;
    if (!s.eventsStarted && s.nodes.synced && s.pods.synced) {
      s.eventsStarted = true;
      s.events.start();
    }
  }
  schedule();
}

// ---- login ----

function showLogin(message = ''): void {
  view?.dispose?.();
  view = undefined;
  const input = h('input', { type: 'password', name: 'token', autocomplete: 'off', placeholder: 'token (admin or viewer)', required: true, id: 'token' });
  const err = h('p', { class: 'error', id: 'login-error', text: message });
  const form = h(
    'form',
    { class: 'login', id: 'login' },
    h('h1', { text: 'berth' }),
    h('label', { for: 'token', text: 'Token' }),
    input,
    h('button', { type: 'submit', text: 'Log in' }),
    err,
    h('p', { class: 'hint', text: 'berth token create --role viewer makes a read-only token; the admin token is in admin.conf.' }),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    void login(input.value.trim()).catch((x: Error) => {
      err.textContent = x.message;
    });
  });
  root.replaceChildren(form);
  input.focus();
}

async function login(token: string): Promise<void> {
  const api = new Api(token);
  let who: { role: string } | undefined;
  // A request that failed without an answer (the browser saw the network change, the controller
  // restarting) is tried again twice; an answer is final.
  for (let attempt = 1; !who; attempt++) {
    try {
      who = await api.request<{ role: string }>('GET', '/api/v1/whoami');
    } catch (e) {
      if (e instanceof ApiFailure) throw new Error(e.status === 401 ? 'the controller does not accept this token' : e.message);
      if (attempt >= 3) throw e;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  if (who.role !== 'admin' && who.role !== 'viewer') throw new Error(`a ${who.role} token cannot see the cluster: use the admin token or a viewer token`);
  saveToken(token);
  start(api, who.role);
}

function logout(message = ''): void {
  forgetToken();
  if (session) for (const i of [session.pods, session.nodes, session.sets, session.events]) i.stop();
  session = undefined;
  showLogin(message);
}

function start(api: Api, role: string): void {
  api.onUnauthorized = () => logout('the token is no longer accepted; log in again');
  session = {
    api,
    role,
    version: 0,
    eventsStarted: false,
    pods: new Informer<Pod>(api, '/api/v1/pods', changed),
    nodes: new Informer<Node>(api, '/api/v1/nodes', changed),
    sets: new Informer<StatefulSet>(api, '/apis/apps/v1/statefulsets', changed),
    events: new Informer<Event>(api, '/api/v1/events', changed),
  };
  for (const i of [session.nodes, session.pods, session.sets]) i.start();
  route();
}

// ---- frame: header, navigation, status line ----

function isAdmin(): boolean {
  return session?.role === 'admin';
}

function header(title: string): HTMLElement {
  const s = session!;
  const informers = [s.nodes, s.pods, s.sets, s.events];
  const errors = informers.map((i) => i.error).filter(Boolean);
  const synced = informers.every((i) => i.synced);
  const status = errors.length ? `reconnecting: ${errors[0]}` : synced ? 'live' : 'loading';
  const logoutBtn = h('button', { class: 'link', id: 'logout', text: 'Log out' });
  logoutBtn.addEventListener('click', () => logout());
  return h(
    'header',
    {},
    h('a', { href: '#/cluster', class: 'brand', text: 'berth' }),
    h('nav', {}, h('a', { href: '#/cluster', text: 'Cluster' }), h('a', { href: '#/events', text: 'Events' })),
    h('h1', { text: title }),
    h('span', {
      class: `live ${errors.length ? 'is-bad' : synced ? 'is-ok' : ''}`,
      id: 'live',
      'data-status': status,
      // How often the lists were made: more than once each after a watch ended (a controller restart).
      'data-lists': informers.reduce((n, i) => n + i.lists, 0),
      text: status,
    }),
    h('span', { class: 'role', id: 'role', text: s.role }),
    logoutBtn,
  );
}

/** The elements of a list, without the nulls of parts not shown. */
function present(...els: (HTMLElement | null)[]): HTMLElement[] {
  return els.filter((e): e is HTMLElement => e !== null);
}

function nodesByName(): Map<string, Node> {
  const m = new Map<string, Node>();
  for (const n of session!.nodes.items.values()) m.set(n.metadata.name, n);
  return m;
}

// ---- actions ----

/**
 * Asks for confirmation (with the inputs `body` holds), then runs `act`; its answer or error is
 * shown in the dialog. Only offered to the admin token; the controller refuses others anyway.
 */
function confirmAction(
  title: string,
  body: HTMLElement[],
  verb: string,
  act: (form: HTMLFormElement) => Promise<string>,
  check?: (form: HTMLFormElement) => string,
): void {
  const result = h('p', { class: 'result', id: 'dialog-result' });
  const ok = h('button', { type: 'submit', class: 'danger', 'data-confirm': '', text: verb });
  const cancel = h('button', { type: 'button', 'data-cancel': '', text: 'Cancel' });
  const form = h('form', { method: 'dialog' }, h('h2', { text: title }), ...body, result, h('div', { class: 'buttons' }, cancel, ok));
  const dialog = h('dialog', { id: 'confirm' }, form);
  cancel.addEventListener('click', () => dialog.close());
  dialog.addEventListener('close', () => dialog.remove());
  const validate = () => {
    const problem = check?.(form) ?? '';
    result.textContent = problem;
    result.className = problem ? 'result error' : 'result';
    ok.disabled = problem !== '';
  };
  form.addEventListener('input', validate);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (check?.(form)) return validate();
    ok.disabled = true;
    result.textContent = 'working…';
    result.removeAttribute('data-done');
    act(form).then(
      (msg) => {
        result.textContent = msg;
        result.className = 'result ok';
        result.setAttribute('data-done', 'ok');
        setTimeout(() => dialog.close(), 800);
      },
      (err: Error) => {
        // An answer of the API (a refusal) or none at all (the request or its answer was lost
        // on the way): the second may have been carried out; the page shows what happened.
        const answered = err instanceof ApiFailure;
        result.textContent = answered ? `${err.status}: ${err.message}` : `no answer from the controller (${err.message}); it may or may not have been done`;
        result.className = 'result error';
        result.setAttribute('data-done', answered ? 'error' : 'no-answer');
        ok.disabled = false;
      },
    );
  });
  document.body.append(dialog);
  dialog.showModal();
  validate();
}

function actionButton(action: string, text: string, onClick: () => void): HTMLButtonElement | null {
  if (!isAdmin()) return null;
  const b = h('button', { 'data-action': action, text });
  b.addEventListener('click', onClick);
  return b;
}

const setPath = (ns: string, name: string) => `/api/v1/namespaces/${enc(ns)}/statefulsets/${enc(name)}`;
const podPath = (ns: string, name: string) => `/api/v1/namespaces/${enc(ns)}/pods/${enc(name)}`;

function scaleAction(set: StatefulSet): void {
  const ns = set.metadata.namespace ?? 'default';
  const input = h('input', { type: 'number', name: 'replicas', min: 0, step: 1, value: set.spec.replicas ?? 1, required: true });
  confirmAction(
    `Scale statefulset ${set.metadata.name}`,
    [h('label', { text: `Replicas (now ${set.spec.replicas ?? 1})` }, input)],
    'Scale',
    async () => {
      await session!.api.request('PUT', `${setPath(ns, set.metadata.name)}/scale`, { spec: { replicas: Number(input.value) } });
      return `statefulset.apps/${set.metadata.name} scaled to ${input.value}`;
    },
    () => (/^\d+$/.test(input.value) ? '' : 'replicas must be a whole number, 0 or more'),
  );
}

function restartAction(set: StatefulSet): void {
  const ns = set.metadata.namespace ?? 'default';
  confirmAction(
    `Restart statefulset ${set.metadata.name}`,
    [h('p', { text: 'A new revision with the same template: the pods are replaced one by one, from the highest ordinal down.' })],
    'Restart',
    async () => {
      const at = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
      await session!.api.request(
        'PATCH',
        setPath(ns, set.metadata.name),
        { spec: { template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': at } } } } },
        'application/merge-patch+json',
      );
      return `statefulset.apps/${set.metadata.name} restarted`;
    },
  );
}

function undoAction(set: StatefulSet): void {
  const ns = set.metadata.namespace ?? 'default';
  confirmAction(
    `Undo the last rollout of ${set.metadata.name}`,
    [h('p', { text: 'The set goes back to its previous revision (berth rollout undo).' })],
    'Undo',
    async () => {
      const res = await session!.api.request<{ message?: string }>('POST', `${setPath(ns, set.metadata.name)}/rollback`, { toRevision: 0 });
      return res?.message ?? 'rolled back';
    },
  );
}

function cordonAction(node: Node, cordon: boolean): void {
  const name = node.metadata.name;
  confirmAction(
    `${cordon ? 'Cordon' : 'Uncordon'} node ${name}`,
    [h('p', { text: cordon ? 'No new pods are placed on this node; the pods on it keep running.' : 'Pods may be placed on this node again.' })],
    cordon ? 'Cordon' : 'Uncordon',
    async () => {
      await session!.api.request('PATCH', `/api/v1/nodes/${enc(name)}`, { spec: { unschedulable: cordon ? true : null } });
      return `node/${name} ${cordon ? 'cordoned' : 'uncordoned'}`;
    },
  );
}

function deletePodAction(pod: Pod): void {
  const ns = pod.metadata.namespace ?? 'default';
  confirmAction(
    `Delete pod ${pod.metadata.name}`,
    [h('p', { text: setOf(pod) ? 'Its set makes it again, with the same name and volume, on the same node.' : 'A bare pod is not made again.' })],
    'Delete',
    async () => {
      await session!.api.request('DELETE', podPath(ns, pod.metadata.name));
      return `pod "${pod.metadata.name}" deleted`;
    },
  );
}

function movePodAction(pod: Pod): void {
  const ns = pod.metadata.namespace ?? 'default';
  const nodes = nodesByName();
  const from = pod.spec.nodeName;
  const select = h('select', { name: 'to' }, h('option', { value: '', text: '— node —' }));
  for (const n of [...nodes.values()].sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1))) {
    if (n.metadata.name === from) continue;
    const st = nodeState(n);
    select.append(h('option', { value: n.metadata.name, text: `${n.metadata.name}${st === 'ready' ? '' : ` (${st})`}` }));
  }
  const copy = h('input', { type: 'radio', name: 'volume', value: 'copy' });
  const empty = h('input', { type: 'radio', name: 'volume', value: 'empty' });
  const volume = () => (copy.checked ? 'copy' : empty.checked ? 'empty' : '');
  confirmAction(
    `Move pod ${pod.metadata.name} from ${from ?? '(no node)'}`,
    [
      h('label', { text: 'To node' }, select),
      h('label', { class: 'radio' }, copy, 'copy the volume from the old node (it must be Ready)'),
      h('label', { class: 'radio' }, empty, 'start with an empty volume (the old data stays on the old node)'),
    ],
    'Move',
    async () => {
      const m = await session!.api.request<{ phase: string; to: string; message?: string }>('POST', `${podPath(ns, pod.metadata.name)}/move`, {
        to: select.value,
        volume: volume(),
      });
      return `pod/${pod.metadata.name} moving to ${m.to}: ${m.phase}${m.message ? ` (${m.message})` : ''}`;
    },
    () => moveProblem(select.value, volume(), nodesByName(), from),
  );
}

// ---- cluster page ----

const COL_W = 168;
const HEAD_H = 54;
const CELL_H = 26;

function clusterView(): { render(): void } {
  const s = session!;
  let cols: Column[] = [];
  let maxCells = 0;
  let seen = -1;
  let opts = { problemsFirst: false, onlyProblems: false };
  const grid = new VirtualGrid(COL_W, HEAD_H, CELL_H, {
    columns: () => cols.length,
    cells: (c) => cols[c].pods.length,
    maxCells: () => maxCells,
    head: (c) => {
      const col = cols[c];
      if (!col.node) return h('div', { class: 'st-unscheduled', 'data-node': '', text: `unscheduled (${col.pods.length})` });
      return h(
        'a',
        { href: `#/node/${enc(col.node)}`, class: `st-${col.state}`, 'data-node': col.node, 'data-state': col.state },
        h('b', { text: col.node }),
        h('span', {
          text: `${col.state === 'ready' ? 'Ready' : col.state === 'notready' ? 'NotReady' : col.state} · ${col.pods.length} pods${col.notReady ? ` · ${col.notReady} not ready` : ''}`,
        }),
      );
    },
    cell: (c, r) => {
      const p = cols[c].pods[r];
      const st = podState(p);
      const set = setOf(p);
      const ns = p.metadata.namespace ?? 'default';
      const problem = podProblem(p);
      return h(
        'a',
        {
          href: set ? `#/set/${enc(ns)}/${enc(set)}` : `#/node/${enc(p.spec.nodeName ?? '')}`,
          class: `st-${st}`,
          'data-pod': p.metadata.name,
          'data-state': st,
          'data-ready': podReady(p) ? 'true' : 'false',
          title: `${ns}/${p.metadata.name}: ${st}${problem ? ` (${problem})` : ''}${p.spec.nodeName ? ` on ${p.spec.nodeName}` : ''}`,
        },
        h('span', { text: p.metadata.name }),
        problem ? h('small', { text: problem }) : null,
      );
    },
  });
  const summary = h('div', { class: 'summary', id: 'summary' });
  const sets = h('div', { class: 'sets', id: 'sets' });
  const toggles = h('div', { class: 'toggles' });
  const first = h('input', { type: 'checkbox', id: 'problems-first' });
  const only = h('input', { type: 'checkbox', id: 'only-problems' });
  toggles.append(h('label', {}, first, 'problems first'), h('label', {}, only, 'only hosts with problems'));
  const onToggle = () => {
    opts = { problemsFirst: first.checked, onlyProblems: only.checked };
    seen = -1;
    schedule();
  };
  first.addEventListener('change', onToggle);
  only.addEventListener('change', onToggle);
  const head = h('div');
  const body = h('main', { class: 'cluster' }, h('div', { class: 'bar' }, summary, toggles), sets, grid.el);
  root.replaceChildren(head, body);
  return {
    render() {
      head.replaceChildren(header('Cluster'));
      if (seen !== s.version) {
        seen = s.version;
        cols = clusterColumns(s.nodes.items.values(), s.pods.items.values(), opts);
        maxCells = cols.reduce((m, c) => Math.max(m, c.pods.length), 0);
        const sum = clusterSummary(s.nodes.items.values(), s.pods.items.values());
        summary.replaceChildren(
          ...present(
            h('span', { class: 'st-ready', text: `${sum.nodes.ready + sum.nodes.cordoned} nodes Ready` }),
            sum.nodes.notready ? h('span', { class: 'st-notready', text: `${sum.nodes.notready} NotReady` }) : null,
            sum.nodes.cordoned ? h('span', { class: 'st-cordoned', text: `${sum.nodes.cordoned} cordoned` }) : null,
            h('span', { class: 'st-ready', text: `${sum.pods.ready} pods Ready` }),
            ...(['running', 'pending', 'terminating', 'failed', 'unknown'] as const).map((k) =>
              sum.pods[k] ? h('span', { class: `st-${k}`, text: `${sum.pods[k]} ${k}` }) : null,
            ),
          ),
        );
        const setList = [...s.sets.items.values()].sort((a, b) => (keyOf(a) < keyOf(b) ? -1 : 1));
        sets.replaceChildren(
          ...present(
            ...setList.slice(0, 200).map((x) => {
              const ready = x.status?.readyReplicas ?? 0;
              const want = x.spec.replicas ?? 1;
              return h('a', {
                href: `#/set/${enc(x.metadata.namespace ?? 'default')}/${enc(x.metadata.name)}`,
                class: `chip ${ready >= want ? 'st-ready' : 'st-running'}`,
                'data-set': x.metadata.name,
                text: `${x.metadata.name} ${ready}/${want}`,
              });
            }),
            setList.length > 200 ? h('span', { text: `and ${setList.length - 200} more` }) : null,
          ),
        );
      }
      grid.refresh();
      if (s.nodes.synced && s.pods.synced && !document.documentElement.hasAttribute('data-cluster-painted')) {
        document.documentElement.setAttribute('data-cluster-painted', String(s.pods.items.size));
        performance.mark('berth:cluster-painted');
      }
    },
  };
}

// ---- set page ----

function setView(ns: string, name: string): { render(): void } {
  const s = session!;
  let pods: Pod[] = [];
  const now = () => Date.now();
  const list = new VirtualList(
    30,
    () => pods.length,
    (i) => {
      const p = pods[i];
      const st = podState(p);
      const claims = claimsOf(p);
      const actions = h(
        'span',
        { class: 'actions' },
        actionButton('delete-pod', 'Delete', () => deletePodAction(p)),
        actionButton('move-pod', 'Move', () => movePodAction(p)),
      );
      return h(
        'div',
        { class: `tr st-row-${st}`, 'data-pod': p.metadata.name, 'data-uid': p.metadata.uid, 'data-state': st, 'data-ready': podReady(p) ? 'true' : 'false' },
        h('span', { class: `dot st-${st}` }),
        h('span', { class: 'c-name', text: p.metadata.name }),
        h('span', { class: 'c-ord', text: String(ordinalOf(p)) }),
        h('span', { class: 'c-rev', text: revisionOf(p) }),
        h('span', { class: 'c-ready', text: podReady(p) ? 'Ready' : podProblem(p) }),
        h('span', { class: 'c-num', text: String(restarts(p)) }),
        p.spec.nodeName
          ? h('a', { class: 'c-node', href: `#/node/${enc(p.spec.nodeName)}`, text: p.spec.nodeName })
          : h('span', { class: 'c-node', text: '—' }),
        h('span', { class: 'c-vol', text: claims.join(', ') || '—', title: claims.join(', ') }),
        h('span', { class: 'c-age', text: age(p.metadata.creationTimestamp, now()) }),
        actions,
      );
    },
    'ordinals',
  );
  const head = h('div');
  const info = h('section', { class: 'setinfo' });
  const events = h('section', { class: 'events-small' });
  const cols = h(
    'div',
    { class: 'tr th' },
    h('span', { class: 'dot' }),
    ...['Pod', 'Ordinal', 'Revision', 'Readiness', 'Restarts', 'Node', 'Volume', 'Age', ''].map((t, i) =>
      h('span', { class: ['c-name', 'c-ord', 'c-rev', 'c-ready', 'c-num', 'c-node', 'c-vol', 'c-age', 'actions'][i], text: t }),
    ),
  );
  root.replaceChildren(head, h('main', { class: 'set' }, info, cols, list.el, h('h2', { text: 'Events' }), events));
  let seen = -1;
  return {
    render() {
      head.replaceChildren(header(`statefulset ${ns}/${name}`));
      const set = s.sets.items.get(`${ns}/${name}`);
      if (seen !== s.version) {
        seen = s.version;
        pods = podsOfSet(s.pods.items.values(), ns, name);
        if (!set) {
          info.replaceChildren(h('p', { text: s.sets.synced ? `statefulset ${ns}/${name} does not exist (any more)` : 'loading…' }));
        } else {
          const r = rollout(set, pods);
          const pct = (n: number) => (r.replicas ? `${Math.round((n / r.replicas) * 100)}%` : '0%');
          const bar = h(
            'div',
            {
              class: 'progress',
              id: 'rollout',
              'data-updated': r.updatedReady,
              'data-replicas': r.replicas,
              title: `${r.updatedReady} of ${r.replicas} pods Ready at ${r.updateRevision}`,
            },
            h('div', { class: 'p-done' }),
            h('div', { class: 'p-partition' }),
          );
          (bar.firstChild as HTMLElement).style.width = pct(r.updatedReady);
          (bar.lastChild as HTMLElement).style.left = pct(r.partition);
          info.replaceChildren(
            h(
              'div',
              { class: 'facts' },
              h('span', { id: 'set-replicas', text: `replicas ${r.ready}/${r.replicas} Ready` }),
              h('span', { text: `update revision ${r.updateRevision || '—'}` }),
              h('span', { text: `current revision ${r.currentRevision || '—'}` }),
              h('span', { text: `partition ${r.partition}` }),
              h('span', { text: r.done ? 'rollout complete' : `rollout: ${r.updatedReady} of ${r.target} updated and Ready` }),
              h('span', { text: `${set.spec.podManagementPolicy ?? 'OrderedReady'}` }),
            ),
            bar,
            h(
              'div',
              { class: 'actions' },
              actionButton('scale', 'Scale…', () => scaleAction(set)),
              actionButton('restart', 'Restart rollout…', () => restartAction(set)),
              actionButton('undo', 'Undo rollout…', () => undoAction(set)),
            ),
          );
        }
        const objects = new Set([`StatefulSet/${name}`, ...pods.map((p) => `Pod/${p.metadata.name}`)]);
        const evs = filterEvents(s.events.items.values(), { objects }).filter((e) => (e.involvedObject.namespace ?? 'default') === ns);
        events.replaceChildren(...present(...evs.slice(0, 50).map(eventRow), evs.length === 0 ? h('p', { text: 'no events' }) : null));
      }
      list.refresh();
    },
  };
}

function eventRow(e: Event): HTMLElement {
  return h(
    'div',
    { class: `ev ev-${e.type}`, 'data-reason': e.reason },
    h('span', { class: 'c-age', text: age(e.lastTimestamp || e.metadata.creationTimestamp, Date.now()) }),
    h('span', { class: 'c-type', text: e.type }),
    h('span', { class: 'c-reason', text: e.reason }),
    h('span', { class: 'c-obj', text: `${e.involvedObject.kind.toLowerCase()}/${e.involvedObject.name}` }),
    h('span', { class: 'c-msg', text: e.count > 1 ? `${e.message} (×${e.count})` : e.message, title: e.message }),
  );
}

// ---- node page ----

function nodeView(name: string): { render(): void } {
  const s = session!;
  let pods: Pod[] = [];
  const list = new VirtualList(
    28,
    () => pods.length,
    (i) => {
      const p = pods[i];
      const st = podState(p);
      const set = setOf(p);
      const ns = p.metadata.namespace ?? 'default';
      return h(
        'div',
        { class: 'tr', 'data-pod': p.metadata.name, 'data-state': st },
        h('span', { class: `dot st-${st}` }),
        set ? h('a', { class: 'c-name', href: `#/set/${enc(ns)}/${enc(set)}`, text: p.metadata.name }) : h('span', { class: 'c-name', text: p.metadata.name }),
        h('span', { class: 'c-ready', text: podReady(p) ? 'Ready' : podProblem(p) }),
        h('span', { class: 'c-num', text: String(restarts(p)) }),
        h('span', { class: 'c-age', text: age(p.metadata.creationTimestamp, Date.now()) }),
      );
    },
    'nodepods',
  );
  const head = h('div');
  const info = h('section', { class: 'nodeinfo' });
  root.replaceChildren(head, h('main', { class: 'node' }, info, h('h2', { text: 'Pods' }), list.el));
  let seen = -1;
  return {
    render() {
      head.replaceChildren(header(`node ${name}`));
      const n = s.nodes.items.get(name);
      if (seen !== s.version) {
        seen = s.version;
        pods = [...s.pods.items.values()].filter((p) => p.spec.nodeName === name).sort((a, b) => (keyOf(a) < keyOf(b) ? -1 : 1));
      }
      if (!n) {
        info.replaceChildren(h('p', { text: s.nodes.synced ? `node ${name} is not registered` : 'loading…' }));
      } else {
        const st = nodeState(n);
        const f = n.status.facts;
        const gib = (b?: number) => (b === undefined ? '—' : `${(b / 2 ** 30).toFixed(1)} GiB`);
        const facts: [string, string][] = [
          ['State', st === 'ready' ? 'Ready' : st === 'notready' ? 'NotReady' : st],
          ['Heartbeat', heartbeatText(n, Date.now())],
          ['Address', n.status.addresses?.map((a) => a.address).join(', ') ?? ''],
          ['OS', f?.os ?? n.status.nodeInfo?.osImage ?? ''],
          ['Kernel', f?.kernel ?? n.status.nodeInfo?.kernelVersion ?? ''],
          ['CPUs', String(f?.cpus ?? n.status.capacity?.cpu ?? '')],
          ['Memory', `${gib(f?.memoryAvailableBytes)} free of ${gib(f?.memoryBytes)}`],
          ['Disk', `${gib(f?.diskAvailableBytes)} free of ${gib(f?.diskBytes)}`],
          ['Docker', f?.dockerVersion ?? n.status.nodeInfo?.containerRuntimeVersion ?? ''],
          ['Load', f?.load1 !== undefined ? f.load1.toFixed(2) : '—'],
          ['Pod CIDR', n.spec.podCIDR ?? '—'],
        ];
        info.replaceChildren(
          h('div', { class: `nodestate st-${st}`, id: 'node-state', 'data-state': st, text: facts[0][1] }),
          h('dl', { class: 'facts' }, ...facts.slice(1).flatMap(([k, v]) => [h('dt', { text: k }), h('dd', { text: v })])),
          h(
            'table',
            { class: 'conditions' },
            h('tr', {}, ...['Condition', 'Status', 'Reason', 'Message', 'Since'].map((t) => h('th', { text: t }))),
            ...(n.status.conditions ?? []).map((c) =>
              h(
                'tr',
                { class: c.type === 'Ready' ? (c.status === 'True' ? 'ok' : 'bad') : c.status === 'True' ? 'bad' : '' },
                h('td', { text: c.type }),
                h('td', { text: c.status }),
                h('td', { text: c.reason ?? '' }),
                h('td', { text: c.message ?? '' }),
                h('td', { text: age(c.lastTransitionTime, Date.now()) }),
              ),
            ),
          ),
          h(
            'div',
            { class: 'actions' },
            n.spec.unschedulable
              ? actionButton('uncordon', 'Uncordon…', () => cordonAction(n, false))
              : actionButton('cordon', 'Cordon…', () => cordonAction(n, true)),
          ),
        );
      }
      list.refresh();
    },
  };
}

// ---- events page ----

function eventsView(): { render(): void } {
  const s = session!;
  let evs: Event[] = [];
  const type = h(
    'select',
    { id: 'ev-type' },
    h('option', { value: '', text: 'all types' }),
    h('option', { value: 'Warning', text: 'Warning' }),
    h('option', { value: 'Normal', text: 'Normal' }),
  );
  const text = h('input', { type: 'search', id: 'ev-text', placeholder: 'filter: reason, message, object, node' });
  const count = h('span', { class: 'count', id: 'ev-count' });
  const list = new VirtualList(
    28,
    () => evs.length,
    (i) => eventRow(evs[i]),
    'eventlist',
  );
  const head = h('div');
  root.replaceChildren(head, h('main', { class: 'events' }, h('div', { class: 'bar' }, type, text, count), list.el));
  let seen = -1;
  const refilter = () => {
    seen = -1;
    schedule();
  };
  type.addEventListener('change', refilter);
  text.addEventListener('input', refilter);
  return {
    render() {
      head.replaceChildren(header('Events'));
      if (seen !== s.version) {
        seen = s.version;
        evs = filterEvents(s.events.items.values(), { type: type.value, text: text.value });
        count.textContent = `${evs.length} of ${s.events.items.size}`;
      }
      list.refresh();
    },
  };
}

// ---- routing ----

function route(): void {
  if (!session) {
    showLogin();
    return;
  }
  view?.dispose?.();
  const parts = location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  if (parts[0] === 'set' && parts[1] && parts[2]) view = setView(parts[1], parts[2]);
  else if (parts[0] === 'node' && parts[1]) view = nodeView(parts[1]);
  else if (parts[0] === 'events') view = eventsView();
  else view = clusterView();
  view.render();
}

window.addEventListener('hashchange', route);
window.addEventListener('resize', schedule);
// Ages and heartbeats move on without any change: the view is drawn again every few seconds
// (from what the page holds; no request).
setInterval(() => {
  if (session) schedule();
}, 5000);

const token = savedToken();
if (token) {
  login(token).catch((e: Error) => logout(e.message));
} else {
  showLogin();
}
