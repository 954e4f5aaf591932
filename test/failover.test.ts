// Choosing among several controllers, without a network: which server a call tries next, where
// the next call starts, and how the lists of controllers are read (flags, config file, the
// agent's saved list, the join command).
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { failover, ServerPool, serverListProblem, splitServerList, type TryOutcome } from '../shared/failover.js';
import { resolveConnection } from '../cli/config.js';
import { agentOptions } from '../cli/commands/daemons.js';
import { parseApiServers } from '../cli/tls-options.js';
import { clusterServers, joinCommand } from '../controller/tls/join.js';
import { agentServers, parseServersFile, serversFile } from '../agent/controller-client/servers.js';

const base = { servers: 3, preferred: 0, start: 0, tries: 1, index: 0, method: 'GET' };

t.test('failover: a refused, unreachable or 503 server hands the call to the next; an answer is final', async (t) => {
  const next = (outcome: TryOutcome, over: Partial<typeof base> = {}) => failover({ ...base, ...over, outcome });
  t.same(next('answered'), { preferred: 0, next: undefined }, 'an answer (even 4xx/500) ends the call; that server stays preferred');
  t.same(next('answered', { preferred: 2, index: 1, tries: 2 }), { preferred: 1, next: undefined }, 'the server that answered becomes preferred');
  t.same(next('unreachable'), { preferred: 1, next: 1 }, 'nothing reached the server: the next one, now and for the next call');
  t.same(next('unavailable'), { preferred: 1, next: 1 }, '503: the next one');
  t.same(next('unreachable', { start: 2, index: 2, preferred: 2 }), { preferred: 0, next: 0 }, 'the list wraps around');
  t.same(next('unreachable', { tries: 3, index: 2, preferred: 2 }), { preferred: 0, next: undefined }, 'each server once per call');
  t.same(next('unreachable', { servers: 1 }), { preferred: 0, next: undefined }, 'one server: nothing to fail over to');
});

t.test('failover: after a dropped connection only a method that may be sent twice is tried again', async (t) => {
  for (const method of ['GET', 'PUT', 'DELETE', 'get']) t.equal(failover({ ...base, method, outcome: 'dropped' }).next, 1, `${method}: retried`);
  for (const method of ['POST', 'PATCH']) {
    const d = failover({ ...base, method, outcome: 'dropped' });
    t.equal(d.next, undefined, `${method}: not sent again (the server may have acted on it)`);
    t.equal(d.preferred, 1, `${method}: the next call starts with the next server all the same`);
  }
});

t.test('failover: a failure of a server the pool already left does not move it again', async (t) => {
  // Calls A and B started on server 0; A's failure moved the pool to 1; B's failure comes later.
  t.same(failover({ ...base, preferred: 1, index: 0, outcome: 'unreachable' }), { preferred: 1, next: 1 });
  t.same(failover({ ...base, preferred: 1, index: 0, outcome: 'dropped', method: 'POST' }), { preferred: 1, next: undefined });
});

t.test('ServerPool: remembers the server that worked last, tells streams about failures', async (t) => {
  const pool = new ServerPool(['https://a:1/', 'https://b:1', 'https://a:1']);
  t.same(pool.servers, ['https://a:1', 'https://b:1'], 'trailing slashes go, repeats go');
  const failed: number[] = [];
  const stop = pool.onFailure((i) => failed.push(i));
  t.equal(pool.record({ start: 0, tries: 1, method: 'GET' }, 0, 'unreachable'), 1);
  t.equal(pool.current, 'https://b:1');
  t.equal(pool.record({ start: 0, tries: 2, method: 'GET' }, 1, 'answered'), undefined);
  t.equal(pool.current, 'https://b:1', 'the server that answered is where the next call starts');
  t.same(failed, [0]);
  stop();
  pool.record({ start: 1, tries: 1, method: 'GET' }, 1, 'dropped');
  t.same(failed, [0], 'no calls after unsubscribing');
  t.equal(pool.current, 'https://a:1');
  t.throws(() => new ServerPool([]), /no controller URL/);
  t.equal(ServerPool.for(['https://x:1', 'https://y:1']), ServerPool.for(['https://x:1/', 'https://y:1']), 'one pool per list in a process');
  t.not(ServerPool.for(['https://x:1', 'https://y:1']), ServerPool.for(['https://y:1', 'https://x:1']));
});

t.test('server lists: repeated flags and comma lists, in order, without repeats; problems named', async (t) => {
  t.same(splitServerList(['a:1,b:1', ' c:1 ', undefined, 'a:1', '']), ['a:1', 'b:1', 'c:1']);
  t.equal(serverListProblem(['https://a:1', 'https://b:2']), undefined);
  t.match(serverListProblem(['https://a:1', 'http://b:2']), /mix https and http/);
  t.match(serverListProblem(['ftp://a:1']), /"ftp:\/\/a:1": use https:\/\//);
  t.match(serverListProblem(['https://a b']), /is not a URL/);
});

t.test('CLI config: --server repeated or a comma list; BERTH_SERVER a comma list; admin.conf servers after server', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-failover-conf-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const conf = join(dir, 'admin.conf');
  writeFileSync(conf, 'server: https://127.0.0.1:7443\nservers:\n  - https://c1:7443\n  - https://c2:7443\n  - https://127.0.0.1:7443\ntoken: tk\n');
  const fromFile = resolveConnection({ flags: {}, env: { BERTH_CONFIG: conf }, defaultPath: '/nonexistent' });
  t.same(fromFile.servers, ['https://127.0.0.1:7443', 'https://c1:7443', 'https://c2:7443'], 'server first, then the list, without repeats');
  t.equal(fromFile.server, 'https://127.0.0.1:7443');
  t.same(resolveConnection({ flags: { server: ['c1:7443', 'c2:7443,c3:7443'], token: 't' }, env: {}, defaultPath: conf }).servers, [
    'https://c1:7443',
    'https://c2:7443',
    'https://c3:7443',
  ]);
  t.same(resolveConnection({ flags: { token: 't' }, env: { BERTH_SERVER: 'c1:1, c2:1' }, defaultPath: conf }).servers, ['https://c1:1', 'https://c2:1']);
  t.same(
    resolveConnection({ flags: { server: 'x:1' }, env: { BERTH_SERVER: 'c1:1,c2:1', BERTH_CONFIG: conf }, defaultPath: conf }).servers,
    ['https://x:1'],
    'flags replace the whole list',
  );
  writeFileSync(conf, 'server: https://a:1\nservers: https://b:1\ntoken: t\n');
  t.throws(() => resolveConnection({ flags: {}, env: { BERTH_CONFIG: conf }, defaultPath: conf }), /"servers" must be a list of controller URLs/);
  t.throws(
    () => resolveConnection({ flags: { server: ['https://a:1', 'http://b:1'], token: 't' }, env: {}, defaultPath: conf }),
    /invalid controller address: .*mix https and http/,
  );
});

t.test('agent: --server list, saved in the data dir and used when none is given', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-failover-agent-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const cli = { dataDir: dir, listen: '127.0.0.1:0', label: [], podNetwork: 'auto', dnsTtl: '5' };
  const o = agentOptions({ ...cli, server: ['c1:7443', 'c2:7443,c3:7443'] }, {});
  t.same(o.servers, ['https://c1:7443', 'https://c2:7443', 'https://c3:7443']);
  t.equal(o.server, 'https://c1:7443');
  t.same(agentOptions({ ...cli }, { BERTH_SERVER: 'c1:1,c2:1' }).servers, ['https://c1:1', 'https://c2:1']);
  t.same(agentOptions({ ...cli }, {}).servers, [], 'none given: the saved list decides');
  t.throws(() => agentOptions({ ...cli, server: ['https://a:1', 'http://b:1'] }, {}), /invalid --server: .*mix https and http/);

  const log = pino({ level: 'silent' });
  await t.rejects(agentServers([], dir, log), /needs the controller address: --server URL \(repeatable\) or BERTH_SERVER; .*servers lists none/);
  t.same(await agentServers(o.servers, dir, log), o.servers);
  t.equal(readFileSync(serversFile(dir), 'utf8'), 'https://c1:7443\nhttps://c2:7443\nhttps://c3:7443\n', 'saved one a line');
  t.same(await agentServers([], dir, log), o.servers, 'a restart without --server uses the saved list');
  t.same(await agentServers(['https://c9:1'], dir, log), ['https://c9:1'], 'flags win');
  t.same(await agentServers([], dir, log), ['https://c9:1'], 'and are saved');
  t.same(parseServersFile('# controllers\nc1:1\n\n https://c2:1/ # second\n'), ['https://c1:1', 'https://c2:1']);
});

t.test('controller: --api-servers lists every controller in the join command and admin.conf', async (t) => {
  t.same(parseApiServers(['c1:7443,c2:7443', 'https://c3:7443/'], false), ['https://c1:7443', 'https://c2:7443', 'https://c3:7443']);
  t.throws(() => parseApiServers(['http://c1:7443'], false), /invalid --api-servers "http:\/\/c1:7443": this controller serves https/);
  t.same(parseApiServers(['http://c1:7443'], true), ['http://c1:7443']);
  t.same(parseApiServers([], false), []);
  t.equal(
    joinCommand(['https://c1:7443', 'https://c2:7443'], 'tok', 'sha256:ab'),
    'berth agent --server https://c1:7443 --server https://c2:7443 --token tok --ca-hash sha256:ab',
  );
  t.equal(
    joinCommand('https://c1:7443', 'tok', 'sha256:ab'),
    'berth agent --server https://c1:7443 --token tok --ca-hash sha256:ab',
    'one controller: as before',
  );
  t.equal(joinCommand(['http://c1:7443'], 'tok', undefined), 'berth agent --server http://c1:7443 --token tok');
  t.same(clusterServers('https://127.0.0.1:7443', 'https://10.0.0.1:7443', []), { adminConf: ['https://127.0.0.1:7443'], join: ['https://10.0.0.1:7443'] });
  t.same(clusterServers('https://127.0.0.1:7443', 'https://10.0.0.1:7443', ['https://10.0.0.1:7443', 'https://10.0.0.2:7443']), {
    adminConf: ['https://127.0.0.1:7443', 'https://10.0.0.1:7443', 'https://10.0.0.2:7443'],
    join: ['https://10.0.0.1:7443', 'https://10.0.0.2:7443'],
  });
});
