// The agent's identity key and the node token file, without HTTP: a join for a registered name
// with the same key gets a fresh credential, with another key (or after a revocation) a 409
// naming `berth node forget`; a token that cannot be written is kept and written later.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { pino } from 'pino';
import { authenticate, createToken } from '../controller/auth/tokens.js';
import { identityProofProblem, IDENTITY_MAX_SKEW_MS } from '../shared/node-identity.js';
import { identityKeyFile, loadOrCreateIdentity, type AgentIdentity } from '../agent/controller-client/identity.js';
import { saveNodeToken, tokenWriteDelay } from '../agent/controller-client/register.js';
import { nodeFacts } from './helpers/node-fixture.js';
import { controllerOnStore } from './helpers/store-harness.js';

function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'berth-identity-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function body(name: string, identity: AgentIdentity | undefined, now = Date.now()) {
  return {
    name,
    address: '10.0.0.1',
    agentUrl: 'http://10.0.0.1:7444',
    dataDir: `/var/lib/berth/${name}`,
    facts: nodeFacts(name),
    ...(identity ? { identity: identity.proof(name, now) } : {}),
  };
}

t.test('the identity key is made once, kept mode 0600, and signs proofs only for its name and time', async (t) => {
  const dir = tempDir(t);
  const a = await loadOrCreateIdentity(dir);
  t.equal(statSync(identityKeyFile(dir)).mode & 0o777, 0o600);
  const again = await loadOrCreateIdentity(dir);
  t.equal(again.publicKey, a.publicKey, 'the same key after a restart');
  const now = Date.now();
  const proof = a.proof('h1', now);
  t.equal(identityProofProblem(proof, 'h1', now), undefined);
  t.match(identityProofProblem(proof, 'h2', now), /^signature:/, 'not for another name');
  t.match(identityProofProblem(proof, 'h1', now + IDENTITY_MAX_SKEW_MS + 1), /^time:/, 'not much later');
  const other = await loadOrCreateIdentity(tempDir(t));
  t.match(identityProofProblem({ ...proof, publicKey: other.publicKey }, 'h1', now), /^signature:/, 'not with another key');
  t.match(identityProofProblem({ ...proof, publicKey: 'junk' }, 'h1', now), /^publicKey:/);
  writeFileSync(identityKeyFile(dir), 'not a key\n');
  await t.rejects(loadOrCreateIdentity(dir), /agent-identity.key holds no usable private key/, 'a broken key file is never replaced silently');
});

t.test('registration: same key → fresh credential (the old one revoked); other key, no key or a revoked node → 409 naming node forget', async (t) => {
  const { store, nodes } = controllerOnStore(t, 'identity');
  const join = authenticate(store, `Bearer ${await createToken(store, 'join', 'join')}`)!;
  const key = await loadOrCreateIdentity(tempDir(t));
  const first = await nodes.register(join, body('h1', key));
  t.ok(first.nodeToken);
  // The node-token file was lost: the agent joins again with the join token and its key.
  const again = await nodes.register(join, body('h1', key));
  t.ok(again.nodeToken, 'a new credential');
  t.not(again.nodeToken, first.nodeToken);
  t.equal(authenticate(store, `Bearer ${first.nodeToken}`), undefined, 'the lost one no longer works');
  t.match(authenticate(store, `Bearer ${again.nodeToken}`), { role: 'node', node: 'h1' });

  const stranger = await loadOrCreateIdentity(tempDir(t));
  await t.rejects(nodes.register(join, body('h1', stranger)), { code: 409, message: /already registered.*not the one recorded.*berth node forget h1/ });
  await t.rejects(nodes.register(join, body('h1', undefined)), { code: 409, message: /proves no identity key.*berth node forget h1/ });
  t.ok(authenticate(store, `Bearer ${again.nodeToken}`), 'refusals change nothing');

  const forged = { ...body('h1', key), identity: { ...key.proof('h1'), signature: stranger.proof('h1').signature } };
  await t.rejects(nodes.register(join, forged), { code: 422, message: /identity\.signature/ }, 'a signature by another key is refused naming the field');

  // An older registration without a key: a join cannot take the name.
  await nodes.register(join, body('old', undefined));
  await t.rejects(nodes.register(join, body('old', key)), { code: 409, message: /no identity key is recorded.*berth node forget old/ });
  // ...until its agent re-registers with its node token and a key.
  const oldToken = (await nodes.register(join, body('old2', undefined))).nodeToken!;
  await nodes.register(authenticate(store, `Bearer ${oldToken}`)!, body('old2', key));
  t.ok((await nodes.register(join, body('old2', key))).nodeToken, 'the key recorded at a node-token registration counts');

  // An admin revoked the node's credential: the key no longer buys a new one.
  await nodes.credentialRevoked('h1');
  await t.rejects(nodes.register(join, body('h1', key)), { code: 409, message: /credential was revoked.*berth node forget h1/ });
});

t.test('a node token that cannot be written is kept and written later; each different failure is logged once', async (t) => {
  t.same([1, 2, 3, 4, 7, 8, 20].map(tokenWriteDelay), [1000, 2000, 4000, 8000, 60_000, 60_000, 60_000]);
  const lines: string[] = [];
  const log = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s).msg) });
  const file = join(tempDir(t), 'node-token');
  let failuresLeft = 3;
  const written: string[] = [];
  const write = async (_f: string, v: string) => {
    if (failuresLeft-- > 0) throw new Error('ENOSPC: no space left on device');
    written.push(v);
  };
  const stop = new AbortController();
  t.teardown(() => stop.abort());
  const r = await saveNodeToken(file, 'tok-1', log, stop.signal, write);
  t.equal(r.saved, false);
  t.ok(r.retrying, 'retrying in the background');
  // A newer token while the write is still failing: the retry writes that one.
  const r2 = await saveNodeToken(file, 'tok-2', log, stop.signal, write);
  t.same(r2, { saved: false });
  await r.retrying;
  t.same(written, ['tok-2'], 'the newest token is written, once');
  t.equal(lines.filter((l) => /cannot save the node token/.test(l)).length, 1, 'the same failure is logged once');
  t.equal(lines.filter((l) => l === 'node token saved').length, 1);
  const ok = await saveNodeToken(file, 'tok-3', log, stop.signal);
  t.same(ok, { saved: true });
  t.equal(readFileSync(file, 'utf8').trim(), 'tok-3');
});

t.test("an agent's URL and certificate pin change only in a registration its identity key signed; plain http is refused without --insecure", async (t) => {
  const { store, events, log } = controllerOnStore(t, 'agent-endpoint');
  const { NodeRegistry } = await import('../controller/nodes/registry.js');
  const { agentCertPem } = await import('./helpers/agent-cert.js');
  const nodes = new NodeRegistry(store, events, log, 5000, undefined, undefined, undefined, undefined, 'https-only');
  const cert = await agentCertPem();
  const identity = await loadOrCreateIdentity(tempDir(t));
  const join = authenticate(store, `Bearer ${await createToken(store, 'join', 'join')}`)!;
  const at = (url: string, withIdentity: boolean) => ({ ...body('h1', withIdentity ? identity : undefined), agentUrl: url, agentCertificate: cert });
  const plain = await (async () => {
    try {
      await nodes.register(join, body('h2', identity));
    } catch (err) {
      return err as { code?: number; message: string };
    }
  })();
  t.equal(plain?.code, 422, 'an http agent URL is refused');
  t.match(plain?.message ?? '', /agentUrl: must be https/);
  await nodes.register(join, at('https://10.0.0.1:7444', true));
  const node = { role: 'node' as const, node: 'h1' };
  const urlOf = () => (store.get('Node', undefined, 'h1') as { status: { agent: { url: string } } }).status.agent.url;
  await t.rejects(nodes.register(node, at('https://127.0.0.1:18999', false)), { code: 403 }, 'a node token alone cannot move the agent URL');
  await t.rejects(nodes.register(node, { ...at('https://10.0.0.1:7444', false), agentCertificate: undefined }), { code: 403 }, 'nor drop the pin');
  t.equal(urlOf(), 'https://10.0.0.1:7444', 'the URL is unchanged');
  await nodes.register(node, at('https://10.0.0.1:7444', false));
  t.pass('re-registering at the same URL and certificate needs no proof');
  await nodes.register(node, at('https://10.0.0.1:7555', true));
  t.equal(urlOf(), 'https://10.0.0.1:7555', 'a registration signed by its identity key moves it');
});
