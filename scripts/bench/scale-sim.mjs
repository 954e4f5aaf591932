// Simulated agents for the scale benchmark (a worker thread runs a slice of them): what a real
// agent does over HTTP, without containers. Each node registers with the join token (or is
// given a token, for the baseline server), heartbeats every 2 s with facts, keeps a pod
// list+watch open (fieldSelector spec.nodeName=<node>), reports each of its pods Running and
// Ready through the status route, and finalizes pods that are being deleted. With
// `clusterWatches` each node also holds the watches an agent with cluster DNS and the service
// proxy holds: every pod, every service and every node of the cluster (pods and nodes in the
// compact view the agent asks for), and the claims of its node (received and counted, not
// parsed). With `http2` (an https controller) each node sends all of that — calls, heartbeats,
// every watch — as streams of one HTTP/2 session, as the agent does; without it, over HTTP/1.1:
// heartbeats, calls and each watch on connections of their own.
import { parentPort, workerData } from 'node:worker_threads';
import { connect } from './scale-http.mjs';

const { server, ca, joinToken, agentCertificate, names, tokens, watchPods, heartbeatMs, callConnections, clusterWatches, http2 } = workerData;
const client = connect({ server, ca });
const enc = encodeURIComponent;

const stats = {
  registered: 0,
  registerErrors: 0,
  heartbeats: 0,
  heartbeatErrors: 0,
  /**
   * Heartbeats that had to open a connection, and calls (status reports, lists, finalizes) that
   * did (over HTTP/2: that opened the node's session, its first or a new one after it closed).
   */
  heartbeatConnects: 0,
  callConnects: 0,
  statusReports: 0,
  statusErrors: 0,
  finalized: 0,
  watchRestarts: 0,
  /** What the cluster-wide watches received: bytes and events (lines), and how often they ended. */
  clusterWatchBytes: 0,
  clusterWatchEvents: 0,
  clusterListItems: 0,
  clusterWatchRestarts: 0,
  /** Longest time between two successful heartbeats of one node, and the slowest heartbeat (ms). */
  maxHeartbeatGapMs: 0,
  maxHeartbeatMs: 0,
  /** The slowest heartbeat that had to open a connection (its kept-alive one was closed meanwhile). */
  maxHeartbeatNewConnectionMs: 0,
  /** The slowest heartbeat sent on the heartbeats' kept-alive connection. */
  maxHeartbeatKeptMs: 0,
  /** Longest delay of a heartbeat timer in this thread beyond its due time (ms): simulator load. */
  maxTimerLateMs: 0,
  lastError: '',
  /** Where the slowest heartbeat since the last reset spent its time. */
  slowestHeartbeat: '',
};
/** Heartbeat round-trip times (ms) since the last `resetLatency`. */
let latencies = [];
let stopped = false;

const facts = (name) => ({
  hostname: name,
  os: 'Debian GNU/Linux 12 (bookworm)',
  kernel: '6.1.0-sim',
  arch: 'amd64',
  cpuModel: 'simulated',
  cpus: 8,
  memoryBytes: 32 * 2 ** 30,
  memoryAvailableBytes: 24 * 2 ** 30 + Math.floor(Math.random() * 2 ** 20),
  diskBytes: 500 * 2 ** 30,
  diskAvailableBytes: 400 * 2 ** 30,
  dockerVersion: '24.0.0',
  load1: Math.random(),
});

function noteError(what, err) {
  stats.lastError = `${what}: ${err?.message ?? err}`;
}

class SimNode {
  constructor(name, token) {
    this.name = name;
    this.token = token;
    if (http2) {
      // As the agent: one HTTP/2 session to the controller for everything (heartbeats, calls,
      // watches), each a stream of its own, so a heartbeat never waits for a connection nor
      // behind a status report; a new session when it closed or failed.
      this.session = client.newSession();
      this.agent = this.beatAgent = this.watchAgent = this.session;
    } else {
      // HTTP/1.1 (--http1), as the agent did before HTTP/2 (agent/controller-client/connection.ts):
      // heartbeats on a kept-alive connection of their own (one socket, closed by this side after
      // 4 s idle, before the controller's 5 s keep-alive timeout), so a heartbeat never waits
      // behind the node's status reports nor for a new connection; the other calls on kept-alive
      // connections of their own, `callConnections` at most (2 in the agent; 0: another one
      // whenever none is free, as Node's global agent does); the watch on a connection of its own.
      this.agent = client.newAgent({ maxSockets: callConnections || Number.POSITIVE_INFINITY, timeout: 4000 });
      this.beatAgent = client.newAgent({ maxSockets: 1, maxFreeSockets: 1, timeout: 4000 });
      // The watch's own connection; a new one resumes the TLS session of the last, as the agent's does.
      this.watchAgent = client.newAgent({ keepAlive: false });
    }
    /** uid → where it is: 'reporting' (a status report in flight) | 'reported' | 'finalizing'. */
    this.pods = new Map();
    this.stream = undefined;
  }

  /** A call on the calls' connections (counted when it had to open one). */
  async call(method, path, token, body) {
    const res = await client.request(this.agent, method, path, token, body);
    if (!res.reused) stats.callConnects++;
    return res;
  }

  async register() {
    const body = {
      name: this.name,
      address: '127.0.0.1',
      // Never called by the benchmark; https unless the controller runs --insecure, as it requires.
      agentUrl: `${new URL(server).protocol}//127.0.0.1:1/${this.name}`,
      ...(agentCertificate ? { agentCertificate } : {}),
      dataDir: `/var/lib/berth-sim/${this.name}`,
      facts: facts(this.name),
      version: 'sim',
    };
    for (let attempt = 0; ; attempt++) {
      try {
        const res = await this.call('POST', '/api/v1/nodes/register', joinToken, body);
        if (res.status === 200 && res.body?.nodeToken) {
          this.token = res.body.nodeToken;
          stats.registered++;
          return;
        }
        throw new Error(`HTTP ${res.status}: ${res.body?.message ?? ''}`);
      } catch (err) {
        // Also a 409 (the etcd store found what the registration read changed, too often):
        // tried again, up to about a minute.
        stats.registerErrors++;
        noteError('register', err);
        if (attempt >= 15) throw err;
        await new Promise((r) => setTimeout(r, Math.min(500 * 2 ** attempt, 5000) * (0.5 + Math.random())));
      }
    }
  }

  startHeartbeats() {
    let due = 0;
    let lastOk = 0;
    const beat = async () => {
      if (stopped) return;
      const t0 = performance.now();
      if (due > 0) stats.maxTimerLateMs = Math.max(stats.maxTimerLateMs, t0 - due);
      try {
        const res = await client.request(this.beatAgent, 'POST', `/api/v1/nodes/${enc(this.name)}/heartbeat`, this.token, { facts: facts(this.name) }, 10_000);
        if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
        stats.heartbeats++;
        const t1 = performance.now();
        latencies.push(t1 - t0);
        if (t1 - t0 > stats.maxHeartbeatMs) {
          // Where the slowest one spent its time: waiting for a socket, connecting, being written, answered.
          const x = res.times;
          const ms = (a, b) => (a && b ? Math.round(b - a) : -1);
          stats.slowestHeartbeat = `socket ${ms(x.start, x.socket)} ms, connect ${ms(x.socket, x.connected)} ms, written ${ms(x.socket, x.sent)} ms, answer head ${ms(x.sent, x.response)} ms, body ${ms(x.response, x.end)} ms`;
        }
        stats.maxHeartbeatMs = Math.max(stats.maxHeartbeatMs, t1 - t0);
        if (!res.reused) stats.heartbeatConnects++;
        if (res.reused) stats.maxHeartbeatKeptMs = Math.max(stats.maxHeartbeatKeptMs, t1 - t0);
        else stats.maxHeartbeatNewConnectionMs = Math.max(stats.maxHeartbeatNewConnectionMs, t1 - t0);
        if (lastOk > 0) stats.maxHeartbeatGapMs = Math.max(stats.maxHeartbeatGapMs, t1 - lastOk);
        lastOk = t1;
      } catch (err) {
        stats.heartbeatErrors++;
        noteError('heartbeat', err);
      }
      due = performance.now() + heartbeatMs;
      if (!stopped) this.timer = setTimeout(beat, heartbeatMs);
    };
    // Spread the nodes over the interval, as independently started agents are.
    this.timer = setTimeout(beat, Math.random() * heartbeatMs);
  }

  /** List, then watch from the list's resourceVersion; again when the stream ends. */
  async runPodWatch() {
    const q = `fieldSelector=${enc(`spec.nodeName=${this.name}`)}`;
    while (!stopped) {
      try {
        const list = await this.call('GET', `/api/v1/pods?${q}`, this.token);
        if (list.status !== 200) throw new Error(`list: HTTP ${list.status}`);
        for (const p of list.body.items) this.onPod('ADDED', p);
        let rv = list.body.metadata.resourceVersion;
        this.stream = client.watch(
          `/api/v1/pods?${q}&watch=true&allowWatchBookmarks=true&resourceVersion=${rv}`,
          this.token,
          (e) => {
            if (e.object?.metadata?.resourceVersion) rv = e.object.metadata.resourceVersion;
            if (e.type === 'ERROR' || e.type === 'BOOKMARK') return;
            this.onPod(e.type, e.object);
          },
          this.watchAgent,
        );
        await this.stream.done;
      } catch (err) {
        noteError('watch', err);
      }
      if (stopped) return;
      stats.watchRestarts++;
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  /**
   * The watches of cluster DNS, the service proxy, the pod network and the claim cleaner
   * (agent/dns/service.ts, agent/network/host-gw.ts, agent/volumes/claim-cleaner.ts), as the
   * agent runs them (agent/controller-client/list-watch.ts): a list on the calls' connection,
   * then a watch from the list's resourceVersion; when the controller ends the watch (410 Expired
   * when it fell too far behind) or it fails, the same again.
   */
  runClusterWatches() {
    // As the agent asks (COMPACT_VIEW): a controller that does not know `view` sends whole objects.
    const paths = [
      '/api/v1/pods?view=compact',
      '/api/v1/services',
      '/api/v1/nodes?view=compact',
      `/api/v1/persistentvolumeclaims?fieldSelector=${enc(`spec.nodeName=${this.name}`)}`,
    ];
    this.clusterStreams = [];
    for (const path of paths) {
      // Over HTTP/2 a stream of the node's session; over HTTP/1.1 a connection of its own.
      const agent = this.session ?? client.newAgent({ keepAlive: false });
      const sep = path.includes('?') ? '&' : '?';
      const run = async () => {
        while (!stopped) {
          try {
            const list = await this.call('GET', path, this.token);
            if (list.status !== 200) throw new Error(`list ${path}: HTTP ${list.status}`);
            stats.clusterListItems += list.body.items.length;
            const s = client.watch(
              `${path}${sep}watch=true&allowWatchBookmarks=true&resourceVersion=${list.body.metadata.resourceVersion}`,
              this.token,
              (bytes, lines) => {
                stats.clusterWatchBytes += bytes;
                stats.clusterWatchEvents += lines;
              },
              agent,
              true,
            );
            this.clusterStreams.push(s);
            await s.done;
          } catch (err) {
            noteError('cluster watch', err);
          }
          if (stopped) return;
          stats.clusterWatchRestarts++;
          await new Promise((r) => setTimeout(r, 500));
        }
      };
      void run();
    }
  }

  onPod(type, pod) {
    const uid = pod.metadata.uid;
    if (type === 'DELETED') {
      this.pods.delete(uid);
      return;
    }
    if (pod.metadata.deletionTimestamp) {
      // No containers to stop: the pod is finalized at once.
      if (this.pods.get(uid) !== 'finalizing') {
        this.pods.set(uid, 'finalizing');
        void this.finalize(pod);
      }
      return;
    }
    // Reported again when someone else changed it (the controller marks a lost node's pods
    // Unknown), as the agent's status reporter does.
    if (this.pods.get(uid) === 'reporting' || isRunningReady(pod)) return;
    this.pods.set(uid, 'reporting');
    void this.reportReady(pod).finally(() => {
      if (this.pods.get(uid) === 'reporting') this.pods.set(uid, 'reported');
    });
  }

  async reportReady(pod) {
    const now = new Date().toISOString();
    const status = {
      phase: 'Running',
      hostIP: '127.0.0.1',
      podIP: '10.244.0.2',
      podIPs: [{ ip: '10.244.0.2' }],
      startTime: now,
      conditions: ['Initialized', 'ContainersReady', 'Ready', 'PodScheduled'].map((type) => ({ type, status: 'True', lastTransitionTime: now })),
      containerStatuses: pod.spec.containers.map((c) => ({
        name: c.name,
        image: c.image,
        imageID: 'sha256:0000',
        containerID: `docker://${pod.metadata.uid}`,
        ready: true,
        started: true,
        restartCount: 0,
        state: { running: { startedAt: now } },
      })),
    };
    const path = `/api/v1/namespaces/${enc(pod.metadata.namespace ?? 'default')}/pods/${enc(pod.metadata.name)}/status?uid=${enc(pod.metadata.uid)}`;
    for (let attempt = 0; !stopped; attempt++) {
      try {
        const res = await this.call('PUT', path, this.token, status);
        if (res.status === 200) {
          stats.statusReports++;
          return;
        }
        if (res.status === 404 || res.status === 409) return; // the pod is gone
        throw new Error(`HTTP ${res.status}: ${res.body?.message ?? ''}`);
      } catch (err) {
        stats.statusErrors++;
        noteError('status', err);
        await new Promise((r) => setTimeout(r, Math.min(1000 * 2 ** attempt, 10_000)));
      }
    }
  }

  async finalize(pod) {
    try {
      const path = `/api/v1/namespaces/${enc(pod.metadata.namespace ?? 'default')}/pods/${enc(pod.metadata.name)}/finalize`;
      const res = await this.call('POST', path, this.token, { uid: pod.metadata.uid });
      if (res.status === 200) stats.finalized++;
    } catch (err) {
      noteError('finalize', err);
      this.pods.delete(pod.metadata.uid); // tried again on the next event or list
    }
  }

  stop() {
    clearTimeout(this.timer);
    this.stream?.close();
    for (const s of this.clusterStreams ?? []) s.close();
    if (this.session) {
      this.session.close();
      if (this.beatAgent !== this.session) this.beatAgent.destroy();
      return;
    }
    this.agent.destroy();
    this.beatAgent.destroy();
  }
}

function isRunningReady(pod) {
  return pod.status?.phase === 'Running' && pod.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
}

/** Runs fn over items with at most `limit` in flight. */
async function pool(items, limit, fn) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]);
    }),
  );
}

const nodes = names.map((n, i) => new SimNode(n, tokens?.[i]));

parentPort.on('message', async (m) => {
  switch (m.type) {
    case 'start': {
      try {
        // Each node heartbeats from its registration on, as an agent does: a node registered early
        // must not stay silent (longer than the grace period) while the others register.
        if (joinToken)
          await pool(nodes, 25, async (n) => {
            await n.register();
            n.startHeartbeats();
          });
        else for (const n of nodes) n.startHeartbeats();
        if (watchPods) for (const n of nodes) void n.runPodWatch();
        if (clusterWatches) for (const n of nodes) n.runClusterWatches();
        parentPort.postMessage({ type: 'started' });
      } catch (err) {
        parentPort.postMessage({ type: 'failed', error: String(err?.message ?? err) });
      }
      break;
    }
    case 'stats': {
      const l = latencies;
      if (m.resetLatency) latencies = [];
      const copy = { ...stats };
      if (m.resetMax) stats.maxHeartbeatMs = stats.maxHeartbeatNewConnectionMs = stats.maxHeartbeatKeptMs = stats.maxHeartbeatGapMs = stats.maxTimerLateMs = 0;
      parentPort.postMessage({ type: 'stats', stats: copy, latencies: l });
      break;
    }
    case 'stop':
      stopped = true;
      for (const n of nodes) n.stop();
      parentPort.postMessage({ type: 'stopped' });
      break;
  }
});
