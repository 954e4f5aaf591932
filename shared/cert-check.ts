// Checks of existing certificates with Node's crypto alone (no node-forge): what a process that
// only loads its certificate at start needs; making one is in certs.ts.
import { createPublicKey, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';

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

/** Whether `keyPem` is the private key of `certPem`; false when either is not one (a damaged file). */
export function keyMatches(keyPem: string, certPem: string): boolean {
  let fromKey: Buffer;
  let fromCert: Buffer;
  try {
    fromKey = createPublicKey(keyPem).export({ type: 'spki', format: 'der' });
    fromCert = new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' });
  } catch {
    return false;
  }
  return Buffer.compare(fromKey, fromCert) === 0;
}
