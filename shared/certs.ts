// X.509 certificates for the controller's CA, its serving and client certificates and the
// agents' own certificates. Node's crypto makes the keys (ECDSA P-256 by default: a TLS handshake
// costs the server a fraction of what an RSA-2048 signature does) and signs; the certificate
// itself (Node cannot build one) is assembled here in DER, with the extensions RFC 5280 asks of a
// CA, a TLS server and a TLS client.
import { createHash, createPrivateKey, generateKeyPairSync, type KeyObject, randomBytes, sign, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { keyMatches, normalizeV6 } from './cert-check.js';

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
  /** The new key's type; default `ec`. */
  keyType?: KeyType;
}

/** The key a new certificate is made for: ECDSA on P-256 (default), or RSA-2048. */
export type KeyType = 'ec' | 'rsa';

function newKey(type: KeyType): { privateKey: KeyObject; publicKey: KeyObject } {
  if (type === 'rsa') return generateKeyPairSync('rsa', { modulusLength: 2048 });
  if (type === 'ec') return generateKeyPairSync('ec', { namedCurve: 'P-256' });
  throw new Error(`keyType must be "ec" or "rsa", got "${String(type)}"`);
}

/** The AlgorithmIdentifier of a signature by `key`: SHA-256 with RSA (NULL parameters) or ECDSA (no parameters). */
function signatureAlgorithmOf(key: KeyObject): Buffer {
  if (key.asymmetricKeyType === 'rsa') return seq(oid(OID.sha256WithRSAEncryption), tlv(0x05, Buffer.alloc(0)));
  if (key.asymmetricKeyType === 'ec') return seq(oid(OID.ecdsaWithSHA256));
  throw new Error(`the issuer's key is ${key.asymmetricKeyType ?? 'of an unknown type'}; certificates are signed with RSA or ECDSA keys only`);
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** A new key (ECDSA P-256 unless `keyType` says otherwise) and a certificate for it. */
export function createCertificate(req: CertRequest): KeyAndCert {
  const keyType = req.keyType ?? 'ec';
  const { privateKey, publicKey } = newKey(keyType);
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const signer = req.issuer ? createPrivateKey(req.issuer.keyPem) : privateKey;
  const signatureAlgorithm = signatureAlgorithmOf(signer);
  if (req.issuer && !keyMatches(req.issuer.keyPem, req.issuer.certPem)) throw new Error("the issuer's key is not the key of its certificate");
  const subject = name(req.commonName, req.organization ?? 'berth');
  const issuer = req.issuer ? new X509Certificate(req.issuer.certPem) : undefined;
  const extensions: Buffer[] = [extension(OID.subjectKeyIdentifier, false, octets(keyIdentifier(publicKey)))];
  if (issuer) extensions.push(extension(OID.authorityKeyIdentifier, false, seq(tlv(0x80, keyIdentifier(issuer.publicKey)))));
  if (req.isCa) {
    extensions.push(
      extension(OID.basicConstraints, true, seq(tlv(0x01, Buffer.from([0xff])))),
      extension(OID.keyUsage, true, keyUsage({ digitalSignature: true, keyCertSign: true, cRLSign: true })),
    );
  } else {
    extensions.push(
      extension(OID.basicConstraints, true, seq()),
      // keyEncipherment is RSA key transport (TLS 1.2 RSA suites); an ECDSA key only signs.
      extension(OID.keyUsage, true, keyUsage({ digitalSignature: true, keyEncipherment: req.usage !== 'client' && keyType === 'rsa' })),
      extension(
        OID.extKeyUsage,
        false,
        seq(...(req.usage === 'client' ? [oid(OID.clientAuth)] : [oid(OID.serverAuth), ...(req.clientAuth ? [oid(OID.clientAuth)] : [])])),
      ),
    );
  }
  if (req.sans && req.sans.length > 0) {
    extensions.push(extension(OID.subjectAltName, false, seq(...req.sans.map((s) => (isIP(s) ? tlv(0x87, ipBytes(s)) : tlv(0x82, Buffer.from(s, 'ascii')))))));
  }
  // Positive, 16 random bytes: unique per certificate as RFC 5280 asks.
  const serial = Buffer.concat([Buffer.from([0x01]), randomBytes(15)]);
  const tbs = seq(
    tlv(0xa0, integer(Buffer.from([2]))),
    integer(serial),
    signatureAlgorithm,
    issuer ? subjectOf(issuer.raw) : subject,
    // A minute back, so a peer whose clock is a little behind accepts a fresh certificate.
    seq(time(new Date(Date.now() - 60_000)), time(new Date(Date.now() + req.days * DAY_MS))),
    subject,
    publicKey.export({ type: 'spki', format: 'der' }),
    tlv(0xa3, seq(...extensions)),
  );
  // RSA: PKCS#1 v1.5; ECDSA: the DER Ecdsa-Sig-Value, as Node returns it.
  const signature = sign('sha256', tbs, signer);
  const der = seq(tbs, signatureAlgorithm, tlv(0x03, Buffer.concat([Buffer.from([0]), signature])));
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return { keyPem, certPem: `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n` };
}

// ---- DER (X.690), only what a certificate needs ----

const OID = {
  commonName: '2.5.4.3',
  organizationName: '2.5.4.10',
  sha256WithRSAEncryption: '1.2.840.113549.1.1.11',
  ecdsaWithSHA256: '1.2.840.10045.4.3.2',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
};

/** One DER element: tag, definite length, content. */
export function tlv(tag: number, content: Buffer): Buffer {
  const n = content.length;
  let len: Buffer;
  if (n < 0x80) len = Buffer.from([n]);
  else {
    const bytes: number[] = [];
    for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
    len = Buffer.from([0x80 | bytes.length, ...bytes]);
  }
  return Buffer.concat([Buffer.from([tag]), len, content]);
}

const seq = (...parts: Buffer[]) => tlv(0x30, Buffer.concat(parts));
const octets = (b: Buffer) => tlv(0x04, b);

/** A non-negative INTEGER from big-endian bytes (a leading zero keeps the top bit from reading as a sign). */
function integer(b: Buffer): Buffer {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0 && (b[i + 1]! & 0x80) === 0) i++;
  const v = b.subarray(i);
  return tlv(0x02, v[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), v]) : v);
}

export function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split('.').map(Number) as [number, number, ...number[]];
  const out: number[] = [40 * a + b];
  for (const n of rest) {
    const bytes = [n & 0x7f];
    for (let v = Math.floor(n / 128); v > 0; v = Math.floor(v / 128)) bytes.unshift(0x80 | (v & 0x7f));
    out.push(...bytes);
  }
  return tlv(0x06, Buffer.from(out));
}

/** CN and O, as UTF8Strings. */
function name(cn: string, o: string): Buffer {
  const rdn = (type: string, value: string) => tlv(0x31, seq(oid(type), tlv(0x0c, Buffer.from(value, 'utf8'))));
  return seq(rdn(OID.commonName, cn), rdn(OID.organizationName, o));
}

/** UTCTime up to 2049, GeneralizedTime from 2050 (RFC 5280 4.1.2.5); whole seconds, UTC. */
function time(d: Date): Buffer {
  const iso = d.toISOString().replace(/[-:T]/g, '').slice(0, 14);
  return d.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(`${iso.slice(2)}Z`)) : tlv(0x18, Buffer.from(`${iso}Z`));
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return seq(oid(id), ...(critical ? [tlv(0x01, Buffer.from([0xff]))] : []), octets(value));
}

/** The KeyUsage BIT STRING, trailing zero bits left out as DER asks. */
function keyUsage(u: { digitalSignature?: boolean; keyEncipherment?: boolean; keyCertSign?: boolean; cRLSign?: boolean }): Buffer {
  const bits = [u.digitalSignature, false, u.keyEncipherment, false, false, u.keyCertSign, u.cRLSign];
  let byte = 0;
  let last = -1;
  bits.forEach((on, i) => {
    if (on) {
      byte |= 0x80 >> i;
      last = i;
    }
  });
  return tlv(0x03, Buffer.from([7 - last, byte]));
}

/**
 * The key identifier of RFC 5280 4.2.1.2 (1): SHA-1 of the subjectPublicKey's bits, the
 * RSAPublicKey of an RSA key or the uncompressed point (04 || x || y) of an EC key.
 */
function keyIdentifier(key: KeyObject): Buffer {
  if (key.asymmetricKeyType === 'ec') {
    const { x, y } = key.export({ format: 'jwk' });
    return createHash('sha1')
      .update(Buffer.concat([Buffer.from([4]), Buffer.from(x ?? '', 'base64url'), Buffer.from(y ?? '', 'base64url')]))
      .digest();
  }
  return createHash('sha1')
    .update(key.export({ type: 'pkcs1', format: 'der' }))
    .digest();
}

function ipBytes(ip: string): Buffer {
  if (isIP(ip) === 4) return Buffer.from(ip.split('.').map(Number));
  const groups = normalizeV6(ip).split(':');
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(Number.parseInt(g, 16), i * 2));
  return out;
}

/** The subject Name of a DER certificate, byte for byte (an issued certificate's issuer must match it). */
function subjectOf(cert: Buffer): Buffer {
  const read = (buf: Buffer, at: number) => {
    let len = buf[at + 1]!;
    let head = 2;
    if (len & 0x80) {
      const n = len & 0x7f;
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + buf[at + 2 + i]!;
      head += n;
    }
    return { tag: buf[at]!, start: at + head, end: at + head + len };
  };
  const tbs = read(cert, read(cert, 0).start);
  let at = tbs.start;
  const fields: { start: number; end: number }[] = [];
  while (at < tbs.end && fields.length < 6) {
    const f = read(cert, at);
    if (f.tag !== 0xa0) fields.push({ start: at, end: f.end });
    at = f.end;
  }
  // serial, signature, issuer, validity, subject
  const subject = fields[4];
  if (!subject) throw new Error('not an X.509 certificate: no subject');
  return cert.subarray(subject.start, subject.end);
}

export { certificateSans, keyMatches, normalizeV6 } from './cert-check.js';
