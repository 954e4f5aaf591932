// Trust in the controller: the CA hash format (kubeadm's), and discovering the controller's
// CA over TLS so that a join can check it against `--ca-hash` before trusting it.
import { createHash, X509Certificate } from 'node:crypto';
import { connect, type DetailedPeerCertificate, type PeerCertificate } from 'node:tls';

/** How a client trusts the server it talks to over https. */
export interface ClientTls {
  /** PEM of the CA (or the self-signed certificate) to trust instead of the system's. */
  ca?: string;
  /** Accept any certificate (development only). */
  insecureSkipVerify?: boolean;
  /** Trust exactly the certificate with this SHA-256 fingerprint (`AB:CD:...`, as Node prints it). */
  fingerprint256?: string;
  /** Key and certificate (PEM) to present: the controller's client certificate when it calls an agent. */
  clientCertificate?: { key: string; cert: string };
}

/**
 * The subject of the controller's client certificate (controller/tls/pki.ts): the one identity
 * the agents' API accepts (docs/security.md, "The agent's API"). The controller's serving
 * certificate, signed by the same CA, has O=berth and serverAuth only.
 */
export const CONTROLLER_CLIENT_SUBJECT = { commonName: 'berth-controller', organization: 'berth:controllers' } as const;

/** What a TLS server knows of its client: Node's `socket.authorized` and the peer certificate's subject. */
export interface TlsPeer {
  /** The client sent a certificate that the server's `ca` verified (chain, dates, clientAuth purpose). */
  authorized: boolean;
  /** Node's subject of the peer certificate (a repeated attribute is an array); undefined without one. */
  subject?: Record<string, string | string[] | undefined>;
}

/**
 * Why a TLS client is not the controller (undefined when it is): its certificate must verify
 * against the cluster CA and carry exactly the controller client subject, so a certificate
 * the CA signed for something else, or a self-signed one with that subject, is refused.
 */
export function controllerClientProblem(peer: TlsPeer): string | undefined {
  if (!peer.subject || Object.keys(peer.subject).length === 0) return 'no client certificate';
  if (!peer.authorized) return 'a client certificate the cluster CA did not issue for client authentication';
  const { CN, O } = peer.subject;
  if (CN !== CONTROLLER_CLIENT_SUBJECT.commonName || O !== CONTROLLER_CLIENT_SUBJECT.organization) {
    return `a client certificate for CN=${String(CN)}, O=${String(O)}, not the controller`;
  }
  return undefined;
}

/** `sha256:` + hex SHA-256 of the certificate's DER SubjectPublicKeyInfo. */
export function caHash(certPemOrDer: string | Buffer): string {
  const spki = new X509Certificate(certPemOrDer).publicKey.export({ type: 'spki', format: 'der' });
  return `sha256:${createHash('sha256').update(spki).digest('hex')}`;
}

/** Checks and normalizes a `--ca-hash` value; throws naming the flag. */
export function parseCaHash(value: string): string {
  const v = value.trim().toLowerCase();
  if (!/^sha256:[0-9a-f]{64}$/.test(v))
    throw new Error(`invalid --ca-hash "${value}": must be sha256: followed by 64 hex digits (printed by "berth controller up")`);
  return v;
}

/** SHA-256 fingerprint of a certificate in Node's `AB:CD:...` form. */
export function fingerprint256(certPem: string): string {
  return new X509Certificate(certPem).fingerprint256;
}

/** PEM of a DER certificate. */
export function derToPem(der: Buffer): string {
  return new X509Certificate(der).toString();
}

/**
 * Connects to an https URL without trusting anything and returns the certificates the server
 * sent, leaf first. Nothing is sent over this connection.
 */
export function fetchPeerChain(url: string, timeoutMs = 10_000): Promise<string[]> {
  const u = new URL(url);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port: Number(u.port || 443), rejectUnauthorized: false, ...(/^[\d.:]+$/.test(host) ? {} : { servername: host }) });
    const timer = setTimeout(() => socket.destroy(new Error(`no TLS handshake with ${u.host} within ${timeoutMs} ms`)), timeoutMs);
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      const chain: string[] = [];
      const seen = new Set<string>();
      let c: DetailedPeerCertificate | PeerCertificate | undefined = socket.getPeerCertificate(true);
      while (c?.raw && !seen.has(c.fingerprint256)) {
        seen.add(c.fingerprint256);
        chain.push(derToPem(c.raw));
        c = (c as DetailedPeerCertificate).issuerCertificate;
      }
      socket.end();
      resolve(chain);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/**
 * The CA among the server's certificates whose hash is one of `hashes`, checked to have
 * signed the serving certificate. Throws a message that says what was expected and found.
 */
export function pickPinnedCa(chain: string[], hashes: string[], server: string): string {
  if (chain.length === 0) throw new Error(`the controller at ${server} sent no certificate`);
  const leaf = new X509Certificate(chain[0]);
  for (const pem of chain) {
    if (!hashes.includes(caHash(pem))) continue;
    const ca = new X509Certificate(pem);
    if (pem !== chain[0] && !leaf.verify(ca.publicKey)) continue;
    return pem;
  }
  throw new Error(
    `the controller at ${server} does not present a CA with the given --ca-hash (expected ${hashes.join(' or ')}, got ${chain.map((p) => caHash(p)).join(', ')}); ` +
      'refusing to join: check the hash printed by "berth controller up" (<data-dir>/join-command)',
  );
}

/**
 * What berth's API servers (controller and agent) negotiate: TLS 1.3, or TLS 1.2 with a
 * forward-secret ECDHE key exchange and an AEAD cipher only (no static-RSA suites such as
 * AES128-SHA, no CBC). Clients that offer TLS 1.3 get it (docs/security.md, "TLS").
 */
export const SERVER_TLS_OPTIONS = {
  minVersion: 'TLSv1.2',
  ciphers: [
    'TLS_AES_256_GCM_SHA384',
    'TLS_CHACHA20_POLY1305_SHA256',
    'TLS_AES_128_GCM_SHA256',
    'ECDHE-ECDSA-AES256-GCM-SHA384',
    'ECDHE-RSA-AES256-GCM-SHA384',
    'ECDHE-ECDSA-CHACHA20-POLY1305',
    'ECDHE-RSA-CHACHA20-POLY1305',
    'ECDHE-ECDSA-AES128-GCM-SHA256',
    'ECDHE-RSA-AES128-GCM-SHA256',
  ].join(':'),
  honorCipherOrder: true,
} as const;
