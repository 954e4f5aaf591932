// The agent API's exec and attach streams and its log options, over its real TLS server with
// the controller's client certificate, against a stand-in for the engine (what the engine does
// is covered on Docker in e2e-exec and kubectl-logs-writes): the refusals before the switch,
// the frames after it, and which log range and lines the API asks the engine for and sends.
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Duplex, PassThrough } from 'node:stream';
import { pino } from 'pino';
import t, { type Test } from 'tap';
import { loadOrCreateAgentCert } from '../agent/api/cert.js';
import { startAgentApi } from '../agent/api/server.js';
import type { DockerRuntime } from '../agent/runtime/docker.js';
import type { FrameSink } from '../agent/runtime/runtime.js';
import { ensurePki } from '../controller/tls/pki.js';
import { CH_STATUS, CH_STDOUT, EXEC_PROTOCOL, FrameDecoder } from '../shared/exec-stream.js';
import { fetchWithTls } from '../shared/client.js';

/** One frame of Docker's multiplexed output. */
const muxed = (stream: 1 | 2, text: string) => {
  const payload = Buffer.from(text);
  const head = Buffer.alloc(8);
  head[0] = stream;
  head.writeUInt32BE(payload.length, 4);
  return Buffer.concat([head, payload]);
};

/** A hijacked engine connection that writes `out` and ends. */
function engineStream(out: Buffer): Duplex {
  const s = new PassThrough();
  setImmediate(() => s.end(out));
  return s;
}

interface LogCall {
  opts: { follow: boolean; tail?: number; timestamps: boolean; since?: number; until?: number };
}

async function agentWith(t: Test, runtime: Partial<DockerRuntime>, running = true) {
  const dir = mkdtempSync(join(tmpdir(), 'berth-agent-streams-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const pki = ensurePki(join(dir, 'controller'), ['127.0.0.1']);
  const cert = await loadOrCreateAgentCert(join(dir, 'agent'), '127.0.0.1');
  const api = await startAgentApi({
    host: '127.0.0.1',
    port: 0,
    runtime: runtime as DockerRuntime,
    findPod: async (_ns, name) => (name === 'p' ? { uid: 'u', containers: [{ name: 'c', id: 'cid', running }] } : undefined),
    log: pino({ level: 'silent' }),
    tls: { key: cert.keyPem, cert: cert.certPem, clientCa: pki.ca.certPem },
  });
  t.teardown(() => api.close());
  const tls = { ca: cert.certPem, key: pki.client.keyPem, cert: pki.client.certPem };
  /** An upgrade request: the refusal (status, Status body), or the frames after the 101. */
  const upgrade = (path: string) =>
    new Promise<{ status: number; body?: { reason: string; message: string }; frames: { channel: number; text: string }[] }>((resolve, reject) => {
      const req = httpsRequest({
        host: '127.0.0.1',
        port: api.port,
        path,
        method: 'POST',
        headers: { connection: 'Upgrade', upgrade: EXEC_PROTOCOL },
        ...tls,
      });
      req.on('response', (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          text += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text), frames: [] }));
      });
      req.on('upgrade', (_res, socket, head) => {
        const decoder = new FrameDecoder();
        const frames: { channel: number; text: string }[] = [];
        const take = (b: Buffer) => {
          for (const f of decoder.push(b)) frames.push({ channel: f.channel, text: f.payload.toString() });
        };
        if (head.length > 0) take(head);
        socket.on('data', take);
        socket.on('close', () => resolve({ status: 101, frames }));
        socket.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
  const get = async (path: string) => {
    const res = await fetchWithTls(
      `https://127.0.0.1:${api.port}${path}`,
      {},
      { ca: cert.certPem, clientCertificate: { key: pki.client.keyPem, cert: pki.client.certPem } },
    );
    return { status: res.status, text: await res.text() };
  };
  return { upgrade, get };
}

t.test('exec: the command runs, its output and exit status come as frames', async (t) => {
  const ran: string[][] = [];
  const { upgrade } = await agentWith(t, {
    inspect: async () => ({ running: true, startedAtMs: 1 }) as never,
    execAttach: async (_id: string, cmd: string[]) => {
      ran.push(cmd);
      return { stream: engineStream(muxed(1, 'hello\n')), resize: async () => {}, exitCode: async () => 0 };
    },
  });
  const r = await upgrade('/pods/default/p/exec?command=echo&command=hello');
  t.equal(r.status, 101);
  t.same(ran, [['echo', 'hello']]);
  t.same(
    r.frames.filter((f) => f.channel === CH_STDOUT).map((f) => f.text),
    ['hello\n'],
  );
  const status = r.frames.find((f) => f.channel === CH_STATUS);
  t.match(JSON.parse(status?.text ?? '{}'), { status: 'Success' });
});

t.test('exec and attach are refused before the switch: not running, engine conflict, bad query, unknown pod', async (t) => {
  const stopped = await agentWith(t, {}, false);
  for (const kind of ['exec?command=sh', 'attach?stdin=false']) {
    const r = await stopped.upgrade(`/pods/default/p/${kind}`);
    t.equal(r.status, 409, `${kind}: container not running`);
    t.match(r.body, { reason: 'Conflict', message: 'container c is not running' });
  }
  const busy = await agentWith(t, {
    inspect: async () => ({ running: true, startedAtMs: 1 }) as never,
    execAttach: async () => {
      throw Object.assign(new Error('container is paused'), { statusCode: 409 });
    },
    attach: async () => {
      throw new Error('engine down');
    },
  });
  const e = await busy.upgrade('/pods/default/p/exec?command=sh');
  t.equal(e.status, 409, 'the engine refuses the exec: 409');
  t.match(e.body, { reason: 'Conflict', message: 'exec in container c: container is paused' });
  const a = await busy.upgrade('/pods/default/p/attach');
  t.equal(a.status, 500, 'the engine fails the attach: 500');
  t.match(a.body, { reason: 'InternalError', message: 'attach to container c: engine down' });
  const q = await busy.upgrade('/pods/default/p/exec');
  t.equal(q.status, 400);
  t.match(q.body, { reason: 'BadRequest', message: /command/ });
  const gone = await busy.upgrade('/pods/default/nope/exec?command=sh');
  t.equal(gone.status, 404);
  const bad = await busy.upgrade('/pods/default/%zz/exec?command=sh');
  t.equal(bad.status, 400, 'a malformed path');
  t.match(bad.body, { message: 'malformed path' });
});

t.test('attach: the output until it ends, then Success', async (t) => {
  const { upgrade } = await agentWith(t, {
    attach: async () => ({
      stream: engineStream(muxed(1, 'attached\n')),
      tty: false,
      stdinOnce: false,
      resize: async () => {},
      exitCode: async () => undefined,
    }),
  });
  const r = await upgrade('/pods/default/p/attach');
  t.equal(r.status, 101);
  t.same(
    r.frames.filter((f) => f.channel === CH_STDOUT).map((f) => f.text),
    ['attached\n'],
  );
  t.match(JSON.parse(r.frames.find((f) => f.channel === CH_STATUS)?.text ?? '{}'), { status: 'Success' });
});

t.test('logs: the range and tail the engine is asked for, limitBytes, and the last lines of a closed range', async (t) => {
  const calls: LogCall[] = [];
  const lines = ['one\n', 'two\n', 'three\n', 'four\n'];
  const { get } = await agentWith(t, {
    logs: async (_id: string, opts: LogCall['opts'], sink: FrameSink) => {
      calls.push({ opts });
      const all = opts.tail !== undefined ? lines.slice(-opts.tail) : lines;
      for (const l of all) sink('stdout', Buffer.from(l));
    },
  });
  const since = Date.UTC(2026, 0, 1, 0, 0, 10);
  const until = Date.UTC(2026, 0, 1, 0, 0, 20);
  const iso = (ms: number) => new Date(ms).toISOString();

  t.same(await get('/pods/default/p/log?tailLines=2'), { status: 200, text: 'three\nfour\n' });
  t.same(calls.at(-1)?.opts, { follow: false, timestamps: false, tail: 2 }, 'an open range: the engine takes the tail');

  t.same(await get(`/pods/default/p/log?previous=true&fromTime=${iso(since)}&untilTime=${iso(until)}&tailLines=2&follow=true`), {
    status: 200,
    text: 'three\nfour\n',
  });
  t.same(calls.at(-1)?.opts, { follow: false, timestamps: false, since, until }, 'a closed range: the whole range, the tail taken here; no follow');

  t.same(await get(`/pods/default/p/log?sinceTime=${iso(since + 5000)}&fromTime=${iso(since)}`), { status: 200, text: lines.join('') });
  t.same(calls.at(-1)?.opts, { follow: false, timestamps: false, since: since + 5000 }, 'the later of sinceTime and the window');

  t.same(await get('/pods/default/p/log?limitBytes=6'), { status: 200, text: 'one\ntw' }, 'limitBytes cuts the answer');

  const n = calls.length;
  const bad = await get('/pods/default/p/log?sinceSeconds=0');
  t.equal(bad.status, 400);
  t.match(JSON.parse(bad.text), { reason: 'BadRequest', message: /sinceSeconds/ });
  t.equal(calls.length, n, 'a refused query asks the engine nothing');
});
