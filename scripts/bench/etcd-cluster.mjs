// Local etcd members for the benchmarks (as test/helpers/etcd.ts starts them for the tests): 1 or 3
// members forming one cluster on free loopback ports (client and peer), plain HTTP, each with its
// data dir and log file under one temporary directory. Stopped by their PID (SIGCONT, SIGTERM,
// SIGKILL after 5 s) and the directory removed by `stop()`.
//
// The binary is `etcd` on PATH, or BERTH_ETCD.
//
//   const etcd = await startEtcdCluster({ members: 3 });
//   try { ... etcd.endpoints ... etcd.rssMiB() ... await etcd.metrics() } finally { await etcd.stop(); }
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sleep } from './lib.mjs';

export const etcdBinary = () => process.env.BERTH_ETCD || 'etcd';

/** `n` different loopback ports nobody listens on now. */
async function freePorts(n) {
  const servers = [];
  try {
    for (let i = 0; i < n; i++) {
      const s = createServer();
      await new Promise((ok, fail) => {
        s.once('error', fail);
        s.listen(0, '127.0.0.1', ok);
      });
      servers.push(s);
    }
    return servers.map((s) => s.address().port);
  } finally {
    await Promise.all(servers.map((s) => new Promise((ok) => s.close(ok))));
  }
}

async function healthy(clientUrl) {
  try {
    const res = await fetch(`${clientUrl}/health`, { signal: AbortSignal.timeout(1000) });
    return (await res.json()).health === 'true';
  } catch {
    return false;
  }
}

const running = (p) => p !== undefined && p.pid !== undefined && p.exitCode === null && p.signalCode === null;

function tail(file, lines = 15) {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

function dirBytes(dir) {
  let sum = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) sum += dirBytes(p);
    else if (e.isFile()) sum += statSync(p).size;
  }
  return sum;
}

/** Prometheus text → Map of `name{labels}` → value (samples only). */
function parseMetrics(text) {
  const m = new Map();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    m.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return m;
}

/**
 * Starts `members` (1 or 3) members; resolves once every one answers /health. A start that fails
 * (a port taken between choosing and binding it) is retried on new ports, three times in all.
 * `track(stop)` is called before any member is started, with what stops them and removes their
 * directory (for a caller that must clean up when interrupted while they start).
 */
export async function startEtcdCluster({ members = 3, track = () => {} } = {}) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(members, track);
    } catch (err) {
      if (attempt >= 3) throw err;
      console.error(`etcd did not start (${err.message.split('\n')[0]}); again on new ports`);
    }
  }
}

async function startOnce(size, track) {
  const dir = mkdtempSync(join(tmpdir(), 'berth-bench-etcd-'));
  const token = `berth-bench-${randomBytes(6).toString('hex')}`;
  const members = [];
  const stopMember = async (m) => {
    const p = m.proc;
    if (!running(p)) return;
    const exited = new Promise((done) => p.once('exit', done));
    const signal = (sig) => {
      try {
        process.kill(p.pid, sig);
      } catch {} // it has exited; the 'exit' event is on its way
    };
    signal('SIGCONT');
    signal('SIGTERM');
    const killer = setTimeout(() => running(p) && signal('SIGKILL'), 5000);
    await exited;
    clearTimeout(killer);
  };
  let stopping;
  const stop = () => {
    stopping ??= Promise.all(members.map(stopMember)).then(() => rmSync(dir, { recursive: true, force: true }));
    return stopping;
  };
  track(stop);
  try {
    const ports = await freePorts(2 * size);
    for (let i = 0; i < size; i++)
      members.push({
        name: `m${i}`,
        clientUrl: `http://127.0.0.1:${ports[2 * i]}`,
        peerUrl: `http://127.0.0.1:${ports[2 * i + 1]}`,
        dataDir: join(dir, `m${i}.etcd`),
        logFile: join(dir, `m${i}.log`),
      });
    const initialCluster = members.map((m) => `${m.name}=${m.peerUrl}`).join(',');
    for (const m of members) {
      const out = openSync(m.logFile, 'a');
      try {
        m.proc = spawn(
          etcdBinary(),
          [
            ['--name', m.name],
            ['--data-dir', m.dataDir],
            ['--listen-client-urls', m.clientUrl],
            ['--advertise-client-urls', m.clientUrl],
            ['--listen-peer-urls', m.peerUrl],
            ['--initial-advertise-peer-urls', m.peerUrl],
            ['--initial-cluster', initialCluster],
            ['--initial-cluster-state', 'new'],
            ['--initial-cluster-token', token],
            ['--logger', 'zap'],
            ['--log-outputs', 'stderr'],
            ['--log-level', 'warn'],
          ].flat(),
          { stdio: ['ignore', out, out] },
        );
      } finally {
        closeSync(out);
      }
      m.proc.on('error', (err) => (m.spawnError = err.message));
    }
    const deadline = Date.now() + 30_000;
    for (const m of members) {
      while (!(await healthy(m.clientUrl))) {
        if (m.spawnError) throw new Error(`etcd member ${m.name}: ${etcdBinary()}: ${m.spawnError}`);
        if (!running(m.proc)) throw new Error(`etcd member ${m.name} exited while starting:\n${tail(m.logFile)}`);
        if (Date.now() > deadline) throw new Error(`etcd member ${m.name} not healthy at ${m.clientUrl} within 30 s:\n${tail(m.logFile)}`);
        await sleep(100);
      }
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    dir,
    members,
    endpoints: members.map((m) => m.clientUrl),
    pids: () => members.filter((m) => running(m.proc)).map((m) => m.proc.pid),
    /** Bytes of every member's data dir (WAL, snapshots, bbolt db). */
    dataBytes: () => members.reduce((s, m) => s + dirBytes(m.dataDir), 0),
    /**
     * Counters of every member, summed, from /metrics: Raft proposals committed (one per write:
     * Txn, put, delete, lease grant or revoke; counted on each member), keys put, Txns of more
     * than one operation (etcd_mvcc_txn_total counts only those), WAL fsyncs and their seconds, backend commits and seconds,
     * the bbolt db's size and the part of it in use.
     * `leader`: the same, of the member that leads now.
     */
    async metrics() {
      const per = await Promise.all(
        members.map(async (m) => parseMetrics(await (await fetch(`${m.clientUrl}/metrics`, { signal: AbortSignal.timeout(5000) })).text())),
      );
      const pick = (mm) => ({
        proposals: mm.get('etcd_server_proposals_committed_total') ?? 0,
        txns: mm.get('etcd_mvcc_txn_total') ?? 0,
        puts: mm.get('etcd_mvcc_put_total') ?? 0,
        fsyncs: mm.get('etcd_disk_wal_fsync_duration_seconds_count') ?? 0,
        fsyncSeconds: mm.get('etcd_disk_wal_fsync_duration_seconds_sum') ?? 0,
        commits: mm.get('etcd_disk_backend_commit_duration_seconds_count') ?? 0,
        commitSeconds: mm.get('etcd_disk_backend_commit_duration_seconds_sum') ?? 0,
        dbBytes: mm.get('etcd_mvcc_db_total_size_in_bytes') ?? 0,
        dbInUseBytes: mm.get('etcd_mvcc_db_total_size_in_use_in_bytes') ?? 0,
        isLeader: mm.get('etcd_server_is_leader') === 1,
      });
      const all = per.map(pick);
      const sum = {};
      for (const k of Object.keys(all[0])) if (k !== 'isLeader') sum[k] = all.reduce((s, x) => s + x[k], 0);
      return { ...sum, leader: all.find((x) => x.isLeader) ?? all[0] };
    },
    stop,
  };
}
