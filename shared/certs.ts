// X.509 certificates for the controller's CA, its serving and client certificates and the
// agents' own certificates. Node's crypto makes the keys; node-forge only assembles and signs the
// certificates (Node cannot build one); Node signs them.
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import forge from 'node-forge';

export interface KeyAndCert {
  keyPem: string;
  certPem: string;
}

export interface CertRequest {
  commonName: string;
  /** The subject's O; default `berth`. */
  organization?: string;
  /**
   * What a leaf certificate is for (its extKeyUsage): `server` (default) serverAuth only,
   * `client` clientAuth only. Ignored for a CA.
   */
  usage?: 'server' | 'client';
  /** DNS names and IP addresses the certificate is valid for. */
  sans?: string[];
  days: number;
  /** A CA certificate (may sign others). */
  isCa?: boolean;
  /** Signs with this CA; undefined: self-signed. */
  issuer?: KeyAndCert;
  /** Also valid as a TLS client certificate (extended key usage clientAuth). */
  clientAuth?: boolean;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** A new RSA key and a certificate for it. */
export function createCertificate(req: CertRequest): KeyAndCert {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString());
  // Positive, 16 random bytes: unique per certificate as RFC 5280 asks.
  cert.serialNumber = `01${randomBytes(15).toString('hex')}`;
  // A minute back, so a peer whose clock is a little behind accepts a fresh certificate.
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + req.days * DAY_MS);
  const subject = [
    { name: 'commonName', value: req.commonName },
    { name: 'organizationName', value: req.organization ?? 'berth' },
  ];
  cert.setSubject(subject);
  const issuerCert = req.issuer ? forge.pki.certificateFromPem(req.issuer.certPem) : undefined;
  cert.setIssuer(issuerCert ? issuerCert.subject.attributes : subject);
  const extensions: Record<string, unknown>[] = [{ name: 'subjectKeyIdentifier' }];
  if (issuerCert) extensions.push({ name: 'authorityKeyIdentifier', keyIdentifier: issuerCert.generateSubjectKeyIdentifier().getBytes() });
  if (req.isCa) {
    extensions.push(
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    );
  } else {
    extensions.push(
      { name: 'basicConstraints', cA: false, critical: true },
      req.usage === 'client'
        ? { name: 'keyUsage', digitalSignature: true, critical: true }
        : { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      req.usage === 'client'
        ? { name: 'extKeyUsage', clientAuth: true }
        : { name: 'extKeyUsage', serverAuth: true, ...(req.clientAuth ? { clientAuth: true } : {}) },
    );
  }
  if (req.sans && req.sans.length > 0) {
    extensions.push({ name: 'subjectAltName', altNames: req.sans.map((s) => (isIP(s) ? { type: 7, ip: s } : { type: 2, value: s })) });
  }
  cert.setExtensions(extensions);
  // Signed by Node's crypto: node-forge's pure-JS RSA takes most of a second per signature.
  cert.signatureOid = forge.pki.oids.sha256WithRSAEncryption;
  cert.siginfo.algorithmOid = forge.pki.oids.sha256WithRSAEncryption;
  cert.tbsCertificate = forge.pki.getTBSCertificate(cert);
  const tbs = Buffer.from(forge.asn1.toDer(cert.tbsCertificate).getBytes(), 'binary');
  cert.signature = sign('sha256', tbs, createPrivateKey(req.issuer ? req.issuer.keyPem : keyPem)).toString('binary');
  return { keyPem, certPem: (forge.pki.certificateToPem(cert) as string).replace(/\r\n/g, '\n') };
}

/** The SANs of a certificate as plain names and addresses (IPv6 in Node's expanded form normalized). */
export function certificateSans(certPem: string): string[] {
  const text = new X509Certificate(certPem).subjectAltName ?? '';
  return text
    .split(', ')
    .filter(Boolean)
    .map((s) => s.replace(/^(DNS|IP Address):/, ''))
    .map((s) => (isIP(s) === 6 ? normalizeV6(s) : s));
}

/** Expands an IPv6 address to eight lower-case groups, so `::1` and `0:0:0:0:0:0:0:1` compare equal. */
export function normalizeV6(address: string): string {
  const [head, tail] = address.toLowerCase().split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return groups.map((g) => g.replace(/^0+(?=.)/, '')).join(':');
}

/** Whether `keyPem` is the private key of `certPem`. */
export function keyMatches(keyPem: string, certPem: string): boolean {
  const fromKey = createPublicKey(keyPem).export({ type: 'spki', format: 'der' });
  const fromCert = new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' });
  return Buffer.compare(fromKey, fromCert) === 0;
}
