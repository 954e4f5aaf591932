// The status page (docs/ui.md) in headless Chromium against a real controller and two agents on
// Docker: log in, a 3-replica set appears ordinal by ordinal, scaled to 5 from the page, a node
// NotReady once its agent stops (after a controller restart the page lists again and stays
// live), and a viewer token sees no action and is refused by the API. Screenshots of each page
// are saved under .tap/ui-screenshots (printed as a comment).
import t from 'tap';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { fetchWithTls } from '../shared/client.js';
import type { Node, StatefulSet } from '../shared/types.js';
import { Cluster, ROOT, requireDocker, requireImage } from './helpers/cluster.js';
import { chromiumBinary, requireChromium } from './helpers/prereq.js';

const SET = (replicas: number) => `apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: web
spec:
  serviceName: web
  replicas: ${replicas}
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
        - name: web
          image: berth.local/web:1
          imagePullPolicy: Never
          readinessProbe:
            tcpSocket:
              port: 80
            periodSeconds: 1
          volumeMounts:
            - name: www
              mountPath: /usr/share/nginx/html
  volumeClaimTemplates:
    - metadata:
        name: www
      spec:
        accessModes: [ReadWriteOnce]
        resources:
          requests:
            storage: 1Gi
`;

/**
 * Records, in the page, each pod element's readiness the first time it is seen in that state, with
 * the number of the DOM change it was seen in (one render draws several cells at once: what one
 * change shows together counts as shown together).
 */
function recordPods(page: Page): Promise<void> {
  return page.evaluate(() => {
    const w = window as unknown as { seenPods: [number, string][] };
    w.seenPods = [];
    const seen = new Set<string>();
    let change = 0;
    const scan = () => {
      change++;
      for (const el of document.querySelectorAll('.gcell[data-pod]')) {
        const k = `${el.getAttribute('data-pod')}:${el.getAttribute('data-ready')}`;
        if (seen.has(k)) continue;
        seen.add(k);
        w.seenPods.push([change, k]);
      }
    };
    new MutationObserver(scan).observe(document.body, { subtree: true, childList: true, attributes: true });
    scan();
  });
}

t.test('status page in headless Chromium', async (t) => {
  if (!(await requireDocker(t))) return;
  if (!(await requireImage(t, 'berth.local/web:1'))) return;
  if (!(await requireChromium(t))) return;
  const c = new Cluster('ui');
  t.teardown(() => c.teardown());
  await c.startController();
  const nodeA = `ui-${process.pid}-a`;
  const nodeB = `ui-${process.pid}-b`;
  await c.startAgent(nodeA);
  await c.startAgent(nodeB);

  const shots = join(ROOT, '.tap', 'ui-screenshots');
  mkdirSync(shots, { recursive: true });
  t.comment(`screenshots: ${shots}`);
  const browser = await chromium.launch({ executablePath: chromiumBinary(), args: ['--no-sandbox'] });
  t.teardown(() => browser.close());
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1400, height: 860 } });
  const page = await context.newPage();
  const pageErrors: string[] = [];
  const requests: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('request', (r) => requests.push(r.url()));
  const shot = async (p: Page, name: string) => {
    const path = join(shots, `${name}.png`);
    await p.screenshot({ path });
    t.comment(`screenshot ${path}`);
  };
  /**
   * Loads the page; Chromium fails a load with ERR_NETWORK_CHANGED when an interface appears or goes
   * (Docker making bridges and veths on this machine): such a load is tried again.
   */
  const load = async (p: Page, url: string) => {
    for (let i = 1; ; i++) {
      try {
        await p.goto(url);
        return;
      } catch (err) {
        if (i >= 5 || !/ERR_NETWORK_CHANGED/.test((err as Error).message)) throw err;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  };
  const login = async (p: Page, token: string) => {
    await load(p, `${c.server}/ui/`);
    await p.fill('#token', token);
    await p.click('#login button[type=submit]');
    await p.waitForSelector('#live[data-status=live]', { timeout: 20_000 });
  };

  t.test('the page is served on the API port with a strict Content-Security-Policy', async (t) => {
    const res = await fetchWithTls(`${c.server}/ui/`, {}, { ca: c.ca });
    t.equal(res.status, 200, 'no token is needed for the page itself');
    const csp = res.headers.get('content-security-policy') ?? '';
    t.match(csp, /default-src 'none'/);
    t.match(csp, /script-src 'self'(;|$)/, 'scripts only from the controller');
    t.notMatch(csp, /unsafe-inline|unsafe-eval/, 'no inline script or eval');
    const html = await res.text();
    t.notMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline script in the HTML');
    t.notMatch(html, /https?:\/\//, 'no external asset');
  });

  t.test('log in with the admin token: the token is kept in sessionStorage, never in a URL', async (t) => {
    await login(page, c.adminToken);
    t.equal(await page.textContent('#role'), 'admin');
    t.equal(await page.evaluate(() => sessionStorage.getItem('berth.token')), c.adminToken);
    t.notOk(
      requests.some((u) => u.includes(c.adminToken)),
      'no request URL holds the token',
    );
    t.ok(
      requests.every((u) => u.startsWith(c.server)),
      'every request goes to the controller',
    );
  });

  t.test('a 3-replica set appears ordinal by ordinal as its pods become Ready', async (t) => {
    await recordPods(page);
    await c.ok(['apply', '-f', '-'], SET(3));
    await page.waitForSelector('.gcell[data-pod=web-2][data-ready=true]', { timeout: 120_000 });
    const seen = await page.evaluate(() => (window as unknown as { seenPods: [number, string][] }).seenPods);
    t.comment(`the page showed (DOM change: pod:ready): ${seen.map(([n, k]) => `${n}:${k}`).join(' ')}`);
    const at = (key: string) => seen.find(([, k]) => k === key)?.[0];
    const firstShown = (pod: string) => seen.find(([, k]) => k.startsWith(`${pod}:`))?.[0];
    for (const i of [0, 1, 2]) t.ok(at(`web-${i}:true`) !== undefined, `web-${i} shown Ready`);
    for (const i of [1, 2]) {
      const first = firstShown(`web-${i}`);
      const prevReady = at(`web-${i - 1}:true`);
      t.ok(
        first !== undefined && prevReady !== undefined && first >= prevReady,
        `web-${i} first shown (change ${first}) no earlier than web-${i - 1} shown Ready (change ${prevReady})`,
      );
    }
    const columns = await page.$$eval('.ghead[data-node]', (els) => els.map((e) => e.getAttribute('data-node')));
    t.ok(columns.includes(nodeA) && columns.includes(nodeB), 'both hosts are columns');
    await shot(page, 'cluster');
  });

  /**
   * Confirms the open dialog and waits for its answer. Chromium drops every request of its
   * connection with ERR_NETWORK_CHANGED when an interface appears or goes (Docker on this
   * machine): the dialog then says no answer came, and, as a user would, the test confirms again.
   */
  const confirm = async () => {
    for (let i = 1; ; i++) {
      await page.click('#confirm [data-confirm]');
      const done = await page.waitForSelector('#dialog-result[data-done]');
      const how = await done.getAttribute('data-done');
      if (how === 'ok') return;
      const text = await done.textContent();
      if (how !== 'no-answer' || i >= 3) throw new Error(`the dialog answered ${how}: ${text}`);
      t.comment(`confirmed again after: ${text}`);
      await page.waitForSelector('#confirm [data-confirm]:not([disabled])');
    }
  };

  t.test('scale the set to 5 from its page: the new ordinals appear', async (t) => {
    await page.click('.chip[data-set=web]');
    await page.waitForSelector('.tr[data-pod=web-2][data-ready=true]');
    await page.click('[data-action=scale]');
    await page.fill('#confirm input[name=replicas]', '5');
    await confirm();
    await page.waitForSelector('.tr[data-pod=web-4][data-ready=true]', { timeout: 120_000 });
    const set = await c.api.get<StatefulSet>('/apis/apps/v1/namespaces/default/statefulsets/web');
    t.equal(set.spec.replicas, 5, 'the set has 5 replicas');
    t.equal(await page.getAttribute('#rollout', 'data-replicas'), '5', 'the progress bar counts 5');
    t.match(await page.textContent('#set-replicas'), /5\/5 Ready/);
    await shot(page, 'set');
  });

  t.test('the node and events pages', async (t) => {
    await page.goto(`${c.server}/ui/#/node/${nodeA}`);
    await page.waitForSelector('#node-state[data-state=ready]');
    t.ok((await page.$$('.nodepods .tr[data-pod]')).length > 0, 'the node lists its pods');
    await shot(page, 'node');
    await page.goto(`${c.server}/ui/#/events`);
    await page.waitForSelector('.eventlist .ev');
    const all = Number((await page.textContent('#ev-count'))?.split(' ')[0]);
    await page.fill('#ev-text', 'web-4');
    await page.waitForFunction((n) => Number(document.querySelector('#ev-count')?.textContent?.split(' ')[0]) < n, all);
    const texts = await page.$$eval('.eventlist .ev', (els) => els.map((e) => e.textContent ?? ''));
    t.ok(texts.length > 0 && texts.every((x) => x.includes('web-4')), 'the filter keeps only the events naming web-4');
    await page.fill('#ev-text', '');
    await shot(page, 'events');
  });

  t.test('cordon and uncordon from the node page, delete a pod from the set page', async (t) => {
    const unschedulable = async () => (await c.api.get<{ spec: { unschedulable?: boolean } }>(`/api/v1/nodes/${nodeA}`)).spec.unschedulable === true;
    await page.goto(`${c.server}/ui/#/node/${nodeA}`);
    await page.click('[data-action=cordon]');
    await confirm();
    await page.waitForSelector('#node-state[data-state=cordoned]');
    t.ok(await unschedulable(), 'the node is cordoned');
    await page.waitForSelector('#confirm', { state: 'detached' });
    await page.click('[data-action=uncordon]');
    await confirm();
    await page.waitForSelector('#node-state[data-state=ready]');
    t.notOk(await unschedulable(), 'the node is uncordoned');
    await page.waitForSelector('#confirm', { state: 'detached' });

    const before = (await c.pods()).find((p) => p.metadata.name === 'web-4')!;
    await page.goto(`${c.server}/ui/#/set/default/web`);
    await page.click('.tr[data-pod=web-4] [data-action=delete-pod]');
    await confirm();
    await page.waitForFunction(
      (uid) => {
        const row = document.querySelector('.tr[data-pod=web-4]');
        return row?.getAttribute('data-ready') === 'true' && row.getAttribute('data-uid') !== uid;
      },
      before.metadata.uid,
      { timeout: 120_000 },
    );
    const after = (await c.pods()).find((p) => p.metadata.name === 'web-4')!;
    t.not(after.metadata.uid, before.metadata.uid, 'web-4 was made again');
    t.equal(after.spec.nodeName, before.spec.nodeName, 'on the node of its volume');
  });

  t.test('a viewer token sees the cluster, has no action, and the API refuses its writes', async (t) => {
    const viewer = (await c.ok(['token', 'create', '--role', 'viewer'])).trim();
    const vctx = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1400, height: 860 } });
    t.teardown(() => vctx.close());
    const vpage = await vctx.newPage();
    await login(vpage, viewer);
    t.equal(await vpage.textContent('#role'), 'viewer');
    await vpage.goto(`${c.server}/ui/#/set/default/web`);
    await vpage.waitForSelector('.tr[data-pod=web-4]');
    t.equal((await vpage.$$('[data-action]')).length, 0, 'no action button on the set page');
    await vpage.goto(`${c.server}/ui/#/node/${nodeA}`);
    await vpage.waitForSelector('#node-state');
    t.equal((await vpage.$$('[data-action]')).length, 0, 'no action button on the node page');
    await shot(vpage, 'viewer-node');
    const api = c.client(viewer);
    for (const [method, path, body] of [
      ['PUT', '/api/v1/namespaces/default/statefulsets/web/scale', { spec: { replicas: 1 } }],
      ['PATCH', `/api/v1/nodes/${nodeA}`, { spec: { unschedulable: true } }],
      ['DELETE', '/api/v1/namespaces/default/pods/web-0', undefined],
    ] as const) {
      const err = await api.request(method, path, body).then(
        () => undefined,
        (e: { status?: number }) => e,
      );
      t.equal(err?.status, 403, `${method} ${path}: 403 for the viewer`);
    }
  });

  t.test('after a controller restart the page lists again; a node goes NotReady when its agent stops', async (t) => {
    await page.goto(`${c.server}/ui/#/cluster`);
    await page.waitForSelector(`.ghead[data-node=${nodeB}][data-state=ready]`);
    const listsBefore = Number(await page.getAttribute('#live', 'data-lists'));
    await c.restartController();
    await c.stopAgent(nodeB);
    await page.waitForSelector(`.ghead[data-node=${nodeB}][data-state=notready]`, { timeout: 60_000 });
    t.pass(`${nodeB} shown NotReady in the cluster page`);
    await page.waitForSelector('#live[data-status=live]', { timeout: 20_000 });
    const listsAfter = Number(await page.getAttribute('#live', 'data-lists'));
    t.ok(listsAfter >= listsBefore + 4, `the page listed its 4 kinds again after the restart (${listsBefore} lists before, ${listsAfter} after)`);
    await shot(page, 'cluster-notready');
    await page.goto(`${c.server}/ui/#/node/${nodeB}`);
    await page.waitForSelector('#node-state[data-state=notready]');
    const ready = (await c.api.get<Node>(`/api/v1/nodes/${nodeB}`)).status.conditions.find((x) => x.type === 'Ready');
    t.ok(
      ready?.lastHeartbeatTime && ready.lastTransitionTime && Date.parse(ready.lastHeartbeatTime) < Date.parse(ready.lastTransitionTime),
      `the NotReady node keeps the time of its last heartbeat (${ready?.lastHeartbeatTime}), before it was marked (${ready?.lastTransitionTime})`,
    );
    const heartbeat = await page.$eval(
      'dl.facts',
      (dl) => [...dl.querySelectorAll('dt')].find((d) => d.textContent === 'Heartbeat')?.nextElementSibling?.textContent ?? '',
    );
    t.match(heartbeat, /^last heartbeat \d+(s|m|h\d*m?|d) ago/, `the node page says how long ago its last heartbeat was: "${heartbeat}"`);
    await shot(page, 'node-notready');
  });

  t.test('no script error in the page', async (t) => {
    t.same(pageErrors, []);
  });
});
