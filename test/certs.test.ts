// The certificate builder (shared/certs.ts) and the controller's PKI key types: ECDSA P-256 keys
// for new certificates, signed by an ECDSA or an RSA issuer; what older versions left on disk
// (RSA) is kept; a torn pair is made again, a torn CA is refused.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { createHash, createPrivateKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect, type TLSSocket } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { certificateSans, createCertificate, keyMatches, type KeyAndCert } from '../shared/certs.js';
import { CLIENT_NAME, ensurePki } from '../controller/tls/pki.js';
import { caHash, fingerprint256 } from '../shared/tls.js';

const dir = mkdtempSync(join(tmpdir(), 'berth-certs-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
/** The certificate in a file, for openssl. */
function file(pem: string): string {
  const f = join(dir, `c${files++}.pem`);
  writeFileSync(f, pem);
  return f;
}
/** `openssl x509 -noout -ext ...` of a certificate, as text. */
const ext = (pem: string, names: string) => execFileSync('openssl', ['x509', '-noout', '-ext', names, '-in', file(pem)]).toString();
const text = (pem: string) => execFileSync('openssl', ['x509', '-noout', '-text', '-in', file(pem)]).toString();
/** openssl verify of `leaf` against the CA `ca`, X.509-strict; its output. */
const opensslVerify = (ca: string, leaf: string) => execFileSync('openssl', ['verify', '-x509_strict', '-CAfile', file(ca), file(leaf)]).toString();
/** The hex key identifier after "Key Identifier:" in openssl's text of one extension. */
const keyId = (s: string, which: 'Subject' | 'Authority') =>
  new RegExp(`${which} Key Identifier:\\s*\\n\\s*(?:keyid:)?([0-9A-F:]+)`).exec(s)?.[1]?.replace(/:/g, '').toLowerCase();
/** RFC 5280 method 1, computed apart from the builder: SHA-1 of the public key's bits. */
function expectedKeyId(pem: string): string {
  const key = new X509Certificate(pem).publicKey;
  if (key.asymmetricKeyType === 'rsa')
    return createHash('sha1')
      .update(key.export({ type: 'pkcs1', format: 'der' }))
      .digest('hex');
  const jwk = key.export({ format: 'jwk' });
  const point = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x as string, 'base64url'), Buffer.from(jwk.y as string, 'base64url')]);
  return createHash('sha1').update(point).digest('hex');
}
const keyType = (pem: string) => new X509Certificate(pem).publicKey.asymmetricKeyType;
const curve = (pem: string) => new X509Certificate(pem).publicKey.asymmetricKeyDetails?.namedCurve;

t.test('a new CA: ECDSA P-256, self-signed with ecdsa-with-SHA256, CA:TRUE, key identifier of its key', async (t) => {
  const ca = createCertificate({ commonName: 'berth-ca', days: 3650, isCa: true });
  const x = new X509Certificate(ca.certPem);
  t.equal(keyType(ca.certPem), 'ec');
  t.equal(curve(ca.certPem), 'prime256v1');
  t.equal(createPrivateKey(ca.keyPem).asymmetricKeyType, 'ec', 'the key file holds the EC private key');
  t.ok(keyMatches(ca.keyPem, ca.certPem));
  t.ok(x.ca, 'a CA');
  t.ok(x.checkIssued(x) && x.verify(x.publicKey), 'self-signed, the signature verifies with its own key');
  const s = text(ca.certPem);
  t.equal(s.match(/Signature Algorithm: ecdsa-with-SHA256/g)?.length, 2, 'ecdsa-with-SHA256 inside and outside the TBSCertificate');
  t.match(s, /Basic Constraints: critical\s+CA:TRUE/);
  t.match(s, /Key Usage: critical\s+Digital Signature, Certificate Sign, CRL Sign/);
  t.equal(keyId(s, 'Subject'), expectedKeyId(ca.certPem), 'SubjectKeyIdentifier: SHA-1 of the public key bits');
  t.notMatch(s, /Authority Key Identifier/, 'self-signed: no AuthorityKeyIdentifier');
  t.equal(x.subject, 'CN=berth-ca\nO=berth');
  t.equal(x.issuer, x.subject);
});

/** Every issuer/leaf key type combination. */
const cases = [
  { issuer: 'ec', leaf: 'ec', signature: 'ecdsa-with-SHA256' },
  { issuer: 'rsa', leaf: 'ec', signature: 'sha256WithRSAEncryption' },
  { issuer: 'rsa', leaf: 'rsa', signature: 'sha256WithRSAEncryption' },
  { issuer: 'ec', leaf: 'rsa', signature: 'ecdsa-with-SHA256' },
] as const;
for (const c of cases) {
  t.test(
    `${c.leaf === 'ec' ? 'an EC' : 'an RSA'} serving certificate from ${c.issuer === 'ec' ? 'an EC' : 'an RSA'} CA: signed ${c.signature}, verified by Node and openssl`,
    async (t) => {
      const ca = createCertificate({ commonName: 'berth-ca', days: 3650, isCa: true, keyType: c.issuer });
      const leaf = createCertificate({ commonName: 'berth-controller', days: 365, sans: ['127.0.0.1', '::1', 'localhost'], issuer: ca, keyType: c.leaf });
      const x = new X509Certificate(leaf.certPem);
      const cax = new X509Certificate(ca.certPem);
      t.equal(keyType(leaf.certPem), c.leaf);
      t.ok(keyMatches(leaf.keyPem, leaf.certPem));
      t.ok(x.checkIssued(cax), 'checkIssued: the CA issued it');
      t.ok(x.verify(cax.publicKey), "verify: the signature checks with the CA's key");
      t.notOk(x.verify(x.publicKey), 'not with its own key');
      t.notOk(x.ca);
      t.match(opensslVerify(ca.certPem, leaf.certPem), /: OK/);
      const s = text(leaf.certPem);
      t.equal(s.match(new RegExp(`Signature Algorithm: ${c.signature}`, 'g'))?.length, 2, `${c.signature} inside and outside the TBSCertificate`);
      t.match(s, /Basic Constraints: critical\s+CA:FALSE/);
      t.match(
        s,
        c.leaf === 'ec' ? /Key Usage: critical\s+Digital Signature\n/ : /Key Usage: critical\s+Digital Signature, Key Encipherment\n/,
        'keyEncipherment for an RSA key only',
      );
      t.same(x.keyUsage, ['1.3.6.1.5.5.7.3.1'], 'extKeyUsage serverAuth');
      t.same(certificateSans(leaf.certPem), ['127.0.0.1', '0:0:0:0:0:0:0:1', 'localhost']);
      t.equal(keyId(ext(leaf.certPem, 'subjectKeyIdentifier'), 'Subject'), expectedKeyId(leaf.certPem));
      t.equal(
        keyId(ext(leaf.certPem, 'authorityKeyIdentifier'), 'Authority'),
        keyId(ext(ca.certPem, 'subjectKeyIdentifier'), 'Subject'),
        "AuthorityKeyIdentifier: the CA's SubjectKeyIdentifier",
      );
      t.equal(x.issuer, cax.subject);
    },
  );
}

t.test('a client certificate: ECDSA, clientAuth only, digitalSignature only', async (t) => {
  const ca = createCertificate({ commonName: 'berth-ca', days: 10, isCa: true });
  const client = createCertificate({ commonName: 'berth-controller', organization: 'berth:controllers', usage: 'client', days: 10, issuer: ca });
  const x = new X509Certificate(client.certPem);
  t.equal(x.subject, 'CN=berth-controller\nO=berth:controllers');
  t.same(x.keyUsage, ['1.3.6.1.5.5.7.3.2']);
  t.match(text(client.certPem), /Key Usage: critical\s+Digital Signature\n/);
  t.equal(keyType(client.certPem), 'ec');
  t.ok(x.verify(new X509Certificate(ca.certPem).publicKey));
  const both = createCertificate({ commonName: 'etcd', sans: ['127.0.0.1'], days: 10, issuer: ca, clientAuth: true });
  t.same(new X509Certificate(both.certPem).keyUsage?.sort(), ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2'], 'clientAuth: serverAuth and clientAuth');
});

t.test('validity: a minute back, the given days ahead; serials differ', async (t) => {
  const before = Date.now();
  const a = createCertificate({ commonName: 'a', days: 365 });
  const b = createCertificate({ commonName: 'a', days: 365 });
  const x = new X509Certificate(a.certPem);
  const from = Date.parse(x.validFrom);
  const to = Date.parse(x.validTo);
  t.ok(from <= before - 59_000 && from >= before - 62_000, `notBefore about a minute back (${x.validFrom})`);
  t.ok(Math.abs(to - before - 365 * 86_400_000) < 5_000, `notAfter 365 days ahead (${x.validTo})`);
  t.not(x.serialNumber, new X509Certificate(b.certPem).serialNumber);
  t.match(x.serialNumber, /^01[0-9A-F]{30}$/, 'positive, 16 bytes');
  const far = new X509Certificate(createCertificate({ commonName: 'far', days: 40 * 365 }).certPem);
  t.ok(Date.parse(far.validTo) > Date.parse('2050-01-01'), `a date from 2050 on (GeneralizedTime) reads back (${far.validTo})`);
});

/** A TLS server with `server` (and `ca` behind it) asking for a client certificate; the client connects with `client`. */
function tlsPair(ca: KeyAndCert, server: KeyAndCert, client?: KeyAndCert) {
  return new Promise<{ clientAuthorized: boolean; serverSawClient: boolean; protocol: string | null; error?: string }>((resolve) => {
    let serverSawClient = false;
    const srv = createServer(
      { key: server.keyPem, cert: server.certPem + ca.certPem, ca: ca.certPem, requestCert: true, rejectUnauthorized: false },
      (s: TLSSocket) => {
        serverSawClient = s.authorized;
        s.end();
      },
    );
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      const s = connect({ host: '127.0.0.1', port, ca: ca.certPem, ...(client ? { key: client.keyPem, cert: client.certPem } : {}) });
      const done = (r: { clientAuthorized: boolean; protocol: string | null; error?: string }) => {
        s.destroy();
        srv.close();
        setTimeout(() => resolve({ ...r, serverSawClient }), 50);
      };
      s.once('secureConnect', () => s.once('end', () => done({ clientAuthorized: s.authorized, protocol: s.getProtocol() })));
      s.once('error', (err) => done({ clientAuthorized: false, protocol: null, error: err.message }));
    });
  });
}

t.test("Node's TLS accepts the chains both ways: EC under EC, EC under RSA", async (t) => {
  for (const issuer of ['ec', 'rsa'] as const) {
    const ca = createCertificate({ commonName: 'berth-ca', days: 10, isCa: true, keyType: issuer });
    const server = createCertificate({ commonName: 'berth-controller', days: 10, sans: ['127.0.0.1'], issuer: ca });
    const client = createCertificate({ commonName: 'berth-controller', organization: 'berth:controllers', usage: 'client', days: 10, issuer: ca });
    const r = await tlsPair(ca, server, client);
    t.equal(r.error, undefined, `${issuer} CA: no TLS error`);
    t.ok(r.clientAuthorized, `${issuer} CA: the client verified the server's chain`);
    t.ok(r.serverSawClient, `${issuer} CA: the server verified the client certificate`);
    t.equal(r.protocol, 'TLSv1.3');
  }
  // A server certificate from another CA is refused: the checks above can fail.
  const ca = createCertificate({ commonName: 'berth-ca', days: 10, isCa: true });
  const other = createCertificate({ commonName: 'berth-ca', days: 10, isCa: true });
  const r = await tlsPair(ca, createCertificate({ commonName: 'x', days: 10, sans: ['127.0.0.1'], issuer: other }));
  t.notOk(r.clientAuthorized, 'a chain from another CA with the same name: refused');
});

t.test(
  'bad input: an issuer key that signs nothing berth knows, an unknown key type, an issuer key of another certificate; damaged files do not match',
  async (t) => {
    const { privateKey } = generateKeyPairSync('ed25519');
    const edCa = {
      keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      certPem: createCertificate({ commonName: 'x', days: 1, isCa: true }).certPem,
    };
    t.throws(() => createCertificate({ commonName: 'y', days: 1, issuer: edCa }), /issuer's key is ed25519/);
    t.throws(() => createCertificate({ commonName: 'y', days: 1, keyType: 'dsa' as 'ec' }), /keyType must be "ec" or "rsa", got "dsa"/);
    const ca = createCertificate({ commonName: 'ca', days: 1, isCa: true });
    const otherKey = createCertificate({ commonName: 'other', days: 1 }).keyPem;
    t.throws(
      () => createCertificate({ commonName: 'y', days: 1, issuer: { keyPem: otherKey, certPem: ca.certPem } }),
      /issuer's key is not the key of its certificate/,
    );
    const a = createCertificate({ commonName: 'a', days: 1 });
    const b = createCertificate({ commonName: 'b', days: 1 });
    t.notOk(keyMatches(a.keyPem, b.certPem), "another certificate's key");
    t.notOk(keyMatches(a.keyPem.slice(0, 60), a.certPem), 'half a key file');
    t.notOk(keyMatches(a.keyPem, a.certPem.slice(0, 100)), 'half a certificate file');
    t.ok(keyMatches(a.keyPem, a.certPem));
  },
);

/** A data dir whose pki/ holds what an earlier version made: RSA-2048 CA, serving and client certificates. */
function rsaPki(sans: string[]): { dataDir: string; ca: KeyAndCert; server: KeyAndCert; client: KeyAndCert } {
  const dataDir = mkdtempSync(join(dir, 'data-'));
  ensurePki(dataDir, sans); // makes the directory with its mode; replaced below
  const ca = createCertificate({ commonName: 'berth-ca', days: 3650, isCa: true, keyType: 'rsa' });
  const server = createCertificate({ commonName: 'berth-controller', days: 365, sans, issuer: ca, keyType: 'rsa' });
  const client = createCertificate({
    commonName: 'berth-controller',
    organization: 'berth:controllers',
    usage: 'client',
    days: 365,
    issuer: ca,
    keyType: 'rsa',
  });
  for (const [name, p] of Object.entries({ ca, server, [CLIENT_NAME]: client })) {
    writeFileSync(join(dataDir, `pki/${name}.key`), p.keyPem);
    writeFileSync(join(dataDir, `pki/${name}.crt`), p.certPem);
  }
  return { dataDir, ca, server, client };
}

t.test('PKI: a new cluster gets ECDSA P-256 keys for the CA, the serving and the client certificate', async (t) => {
  const dataDir = mkdtempSync(join(dir, 'data-'));
  const pki = ensurePki(dataDir, ['127.0.0.1', 'localhost']);
  for (const [name, p] of Object.entries({ ca: pki.ca, serving: pki.serving, client: pki.client })) {
    t.equal(keyType(p.certPem), 'ec', `${name}: EC key`);
    t.equal(curve(p.certPem), 'prime256v1', `${name}: P-256`);
  }
  t.match(opensslVerify(pki.ca.certPem, pki.serving.certPem), /: OK/);
  t.match(opensslVerify(pki.ca.certPem, pki.client.certPem), /: OK/);
  t.equal(pki.caHash, caHash(readFileSync(join(dataDir, 'pki/ca.crt'), 'utf8')), 'the CA hash is of the EC key');
});

t.test('PKI: an RSA CA and certificates from an earlier version are kept as they are; what is made again is EC, signed with RSA', async (t) => {
  const sans = ['127.0.0.1', 'localhost'];
  const old = rsaPki(sans);
  const pinned = fingerprint256(old.server.certPem);
  const kept = ensurePki(old.dataDir, sans);
  t.notOk(kept.createdCa || kept.issuedServing || kept.issuedClient, 'nothing made');
  t.equal(kept.ca.certPem, old.ca.certPem);
  t.equal(kept.serving.certPem, old.server.certPem, 'the RSA serving certificate is kept');
  t.equal(fingerprint256(kept.serving.certPem), pinned, 'so a pinned fingerprint still matches');
  t.equal(kept.client.certPem, old.client.certPem);
  t.equal(kept.caHash, caHash(old.ca.certPem), 'the CA hash agents pinned is unchanged');
  // A new name: a new serving certificate, under the same RSA CA.
  const more = ensurePki(old.dataDir, [...sans, '10.1.2.3']);
  t.ok(more.issuedServing && !more.createdCa);
  t.equal(keyType(more.serving.certPem), 'ec', 'its key is EC');
  t.match(text(more.serving.certPem), /Signature Algorithm: sha256WithRSAEncryption/, 'signed sha256WithRSAEncryption by the RSA CA');
  t.match(opensslVerify(old.ca.certPem, more.serving.certPem), /: OK/);
  const r = await tlsPair(old.ca, more.serving);
  t.ok(r.clientAuthorized, 'a client trusting the old CA verifies the new serving certificate');
});

t.test('PKI: a torn serving or client pair (key of another certificate) is made again; a torn CA is refused, naming its files', async (t) => {
  const dataDir = mkdtempSync(join(dir, 'data-'));
  const first = ensurePki(dataDir, ['127.0.0.1']);
  const stray = createCertificate({ commonName: 'x', days: 1 });
  writeFileSync(join(dataDir, 'pki/server.key'), stray.keyPem);
  writeFileSync(join(dataDir, `pki/${CLIENT_NAME}.key`), 'half a key');
  const again = ensurePki(dataDir, ['127.0.0.1']);
  t.ok(again.issuedServing, 'serving certificate made again');
  t.ok(again.issuedClient, 'client certificate made again');
  t.notOk(again.createdCa, 'the CA is kept');
  t.equal(again.caHash, first.caHash);
  t.ok(
    keyMatches(readFileSync(join(dataDir, 'pki/server.key'), 'utf8'), readFileSync(join(dataDir, 'pki/server.crt'), 'utf8')),
    'the files on disk match again',
  );
  writeFileSync(join(dataDir, 'pki/ca.key'), stray.keyPem);
  t.throws(() => ensurePki(dataDir, ['127.0.0.1']), /ca\.key is not the key of .*ca\.crt/);
});
