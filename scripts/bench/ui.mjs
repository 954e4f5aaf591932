// Status page benchmark: a real controller with N simulated agents (scale-sim.mjs, no
// containers) and S Parallel sets of P pods, then the cluster page in headless Chromium: the
// time from navigation to the first contentful paint, and to the frame that draws the grid
// with every node and pod (the page's `berth:cluster-painted` mark, set once the lists of
// nodes and pods arrived and the grid was built). Baseline in the same run, same browser: the
// page's own two list requests (nodes, pods) fetched and parsed, nothing drawn; so the ratio
// says what drawing costs over the data it needs.
//
// Usage: node scripts/bench/ui.mjs [--nodes 1000] [--pods-per-set 1000] [--sets 10] [--runs 5]
//          [--quick] [--screenshot FILE]      (after `npm run build`; needs /usr/bin/chromium)
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { claimSet, median, selfSigned, Simulator, sleep, stopProcess, waitFor } from './lib.mjs';
import { connect, readAdminConf } from './scale-http.mjs';

const ROOT = new URL('../../', import.meta.url).pathname;
const BIN = join(ROOT, 'dist/bin/berth.js');
const { values } = parseArgs({
  options: {
    nodes: { type: 'string' },
    'pods-per-set': { type: 'string' },
    sets: { type: 'string' },
    runs: { type: 'string', default: '5' },
    workers: { type: 'string', default: '2' },
    quick: { type: 'boolean', default: false },
    screenshot: { type: 'string' },
  },
});
const quick = values.quick;
const NODES = Number(values.nodes ?? (quick ? 50 : 1000));
const PER_SET = Number(values['pods-per-set'] ?? (quick ? 50 : 1000));
const SETS = Number(values.sets ?? (quick ? 2 : 10));
const RUNS = Number(values.runs);
const WORKERS = Math.max(1, Math.min(Number(values.workers), NODES));
const CHROMIUM = process.env.BERTH_CHROMIUM || '/usr/bin/chromium';
for (const [k, v] of Object.entries({ nodes: NODES, 'pods-per-set': PER_SET, sets: SETS, runs: RUNS, workers: WORKERS })) {
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${k} must be a positive integer, got ${v}`);
}

const cleanups = [];
async function cleanup() {
  for (const f of cleanups.splice(0).reverse()) await Promise.resolve(f()).catch(() => {});
}
process.on('SIGINT', () => cleanup().then(() => process.exit(130)));

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'berth-bench-ui-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const controllerDir = join(dir, 'controller');
  const controller = spawn(process.execPath, [BIN, 'controller', 'up', '--data-dir', controllerDir, '--listen', '127.0.0.1:0'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, BERTH_LOG_LEVEL: 'warn' },
  });
  cleanups.push(() => stopProcess(controller));
  let log = '';
  controller.stderr.on('data', (d) => (log = (log + d.toString()).slice(-4000)));
  const confFile = join(controllerDir, 'admin.conf');
  const conf = await waitFor(
    'admin.conf',
    () => {
      if (controller.exitCode !== null) throw new Error(`controller exited (${controller.exitCode}):\n${log}`);
      return existsSync(confFile) && log.includes('listening') && readAdminConf(confFile);
    },
    30_000,
  );
  const joinToken = readFileSync(join(controllerDir, 'join-token'), 'utf8').trim();
  const client = connect(conf);
  // The certificate a simulated agent registers (the controller pins it; never used here).
  const cert = client.tls ? selfSigned(dir, 'agent').ca : undefined;
  console.log(`berth UI benchmark: ${NODES} simulated nodes, ${SETS} Parallel sets × ${PER_SET} pods, ${RUNS} page loads; controller ${conf.server}`);

  const names = Array.from({ length: NODES }, (_, i) => `sim-${String(i).padStart(4, '0')}`);
  const sim = new Simulator({
    server: conf.server,
    ca: conf.ca,
    joinToken,
    agentCertificate: cert,
    names,
    watchPods: true,
    workers: WORKERS,
    heartbeatMs: 2000,
  });
  cleanups.push(() => sim.stop());
  await sim.start();
  const admin = client.newAgent();
  cleanups.push(() => admin.destroy());
  const t0 = performance.now();
  const res = await client.request(
    admin,
    'POST',
    '/api/v1/apply',
    conf.token,
    { objects: Array.from({ length: SETS }, (_, i) => claimSet(`set-${i}`, PER_SET)) },
    120_000,
  );
  if (res.status !== 200) throw new Error(`apply: HTTP ${res.status}: ${res.body?.message ?? ''}`);
  const total = SETS * PER_SET;
  await waitFor(
    `${total} pods Ready`,
    async () => {
      const list = await client.request(admin, 'GET', '/api/v1/pods', conf.token, undefined, 120_000);
      const ready = list.body.items.filter((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).length;
      return ready === total;
    },
    Math.max(300_000, total * 60),
    3000,
  );
  console.log(`${total} pods Ready on ${NODES} nodes after ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  await sleep(2000);

  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  cleanups.push(() => browser.close());
  const page1 = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1600, height: 900 } });
  const rows = [];
  for (let run = 0; run < RUNS; run++) {
    // Baseline: the login page (no token, nothing listed), then the two lists fetched and parsed in it.
    const base = await page1.newPage();
    await base.goto(`${conf.server}/ui/`);
    await base.waitForSelector('#login');
    const baseMs = await base.evaluate(async (token) => {
      const t = performance.now();
      const get = async (p) => JSON.parse(await (await fetch(p, { headers: { authorization: `Bearer ${token}` } })).text());
      const [nodes, pods] = await Promise.all([get('/api/v1/nodes'), get('/api/v1/pods')]);
      if (!nodes.items.length || !pods.items.length) throw new Error('empty lists');
      return performance.now() - t;
    }, conf.token);
    await base.close();
    // The cluster page, logged in (the token in sessionStorage, as after the login form).
    const ctx = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1600, height: 900 } });
    await ctx.addInitScript((token) => sessionStorage.setItem('berth.token', token), conf.token);
    const page = await ctx.newPage();
    await page.goto(`${conf.server}/ui/#/cluster`);
    await page.waitForSelector('html[data-cluster-painted]', { timeout: 120_000 });
    const m = await page.evaluate(
      () =>
        new Promise((ok) =>
          // One more frame: the one that drew the grid has been painted.
          requestAnimationFrame(() =>
            setTimeout(() => {
              const fcp = performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? NaN;
              const grid = performance.getEntriesByName('berth:cluster-painted')[0]?.startTime ?? NaN;
              ok({ fcp, grid, pods: Number(document.documentElement.getAttribute('data-cluster-painted')), cells: document.querySelectorAll('.gcell').length });
            }, 0),
          ),
        ),
    );
    if (run === 0 && values.screenshot) await page.screenshot({ path: values.screenshot });
    // Scrolling to the far end of 1,000 columns: the time to draw the columns then in view.
    const scrollMs = await page.evaluate(
      () =>
        new Promise((ok) => {
          const grid = document.querySelector('.grid');
          const t = performance.now();
          grid.scrollLeft = grid.scrollWidth;
          requestAnimationFrame(() => ok(performance.now() - t));
        }),
    );
    await ctx.close();
    rows.push({ baseMs, ...m, scrollMs });
    console.log(
      `run ${run + 1}: first contentful paint ${m.fcp.toFixed(0)} ms; grid with ${m.pods} pods drawn at ${m.grid.toFixed(0)} ms (${m.cells} cells in the document); ` +
        `baseline lists fetched+parsed ${baseMs.toFixed(0)} ms; ratio grid/baseline ${(m.grid / baseMs).toFixed(2)}; scroll to the last column ${scrollMs.toFixed(0)} ms`,
    );
  }
  const med = (k) => median(rows.map((r) => r[k]));
  console.log(
    `\nmedian of ${RUNS}: first contentful paint ${med('fcp').toFixed(0)} ms, grid drawn ${med('grid').toFixed(0)} ms, baseline ${med('baseMs').toFixed(0)} ms, ` +
      `ratio ${median(rows.map((r) => r.grid / r.baseMs)).toFixed(2)}, scroll ${med('scrollMs').toFixed(0)} ms`,
  );
  console.log(`load average during the run: ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')} (2 cores)`);
}

main()
  .catch((err) => {
    console.error(err.stack ?? String(err));
    process.exitCode = 1;
  })
  .finally(cleanup);
