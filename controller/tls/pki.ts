// The controller's PKI in <data-dir>/pki/: a CA made once (10 years), a serving certificate
// it signs, made again whenever the set of names and addresses changes, and the client
// certificate the controller presents to the agents' API (docs/security.md). New keys are
// ECDSA P-256; a CA or certificate already there (RSA from older versions) is kept as it is.
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { hostname, networkInterfaces } from 'node:os';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { certificateSans, createCertificate, keyMatches, normalizeV6, type KeyAndCert } from '../../shared/certs.js';
import { mkdirDurableSync, writeFileDurableSync } from '../../shared/fs-durable.js';
import { caHash, CONTROLLER_CLIENT_SUBJECT } from '../../shared/tls.js';

export const CA_DAYS = 3650;
export const SERVING_DAYS = 365;
export const CLIENT_DAYS = 365;
/** A serving or client certificate closer than this to its end is made again at start. */
const RENEW_BEFORE_MS = 30 * 24 * 60 * 60 * 1000;

export interface ControllerPki {
  ca: KeyAndCert;
  serving: KeyAndCert;
  /** `sha256:<hex>` of the CA's public key: what agents pass as --ca-hash. */
  caHash: string;
  /** Whether the CA was made by this call (first start). */
  createdCa: boolean;
  /** Whether the serving certificate was (re)made by this call. */
  issuedServing: boolean;
  /** The controller's client certificate for the agents' API: clientAuth only, CONTROLLER_CLIENT_SUBJECT. */
  client: KeyAndCert;
  /** Whether the client certificate was (re)made by this call. */
  issuedClient: boolean;
}

/** `<data-dir>/pki/controller-client.{key,crt}`: files only, never in the store. */
export const CLIENT_NAME = 'controller-client';

export function pkiDir(dataDir: string): string {
  return join(dataDir, 'pki');
}

/** Writes atomically and durably with mode 0600 (keys) or 0644 (certificates). */
function writeFileAtomic(path: string, text: string, mode: number): void {
  writeFileDurableSync(path, text, mode);
}

function normalizeSan(s: string): string {
  return isIP(s) === 6 ? normalizeV6(s) : s.toLowerCase();
}

/**
 * The names a serving certificate needs: loopback, localhost, the host name, every
 * non-internal interface address and the advertise addresses. Sorted, without duplicates.
 */
export function servingSans(advertise: string[], interfaces = networkInterfaces(), host = hostname()): string[] {
  const set = new Set<string>(['127.0.0.1', '::1', 'localhost']);
  if (host) set.add(host);
  for (const infos of Object.values(interfaces)) {
    for (const i of infos ?? []) {
      if (i.internal) continue;
      // Link-local IPv6 addresses carry a zone and are no way to reach a controller.
      if (i.family === 'IPv6' && i.address.toLowerCase().startsWith('fe80:')) continue;
      set.add(i.address);
    }
  }
  for (const a of advertise) set.add(a);
  return [...set].sort();
}

/** Whether the certificate carries exactly these SANs. */
export function sansEqual(certPem: string, wanted: string[]): boolean {
  const have = new Set(certificateSans(certPem).map(normalizeSan));
  const want = new Set(wanted.map(normalizeSan));
  return have.size === want.size && [...want].every((s) => have.has(s));
}

/**
 * The pair `<name>.{key,crt}`, undefined when either file is missing. A key that is not the
 * certificate's (a crash between the two writes, a file edited by hand) throws, naming both files;
 * with `remake` (what the CA signs, made again from it at will) it counts as missing instead.
 */
function readPair(dir: string, name: string, remake = false): KeyAndCert | undefined {
  const key = join(dir, `${name}.key`);
  const crt = join(dir, `${name}.crt`);
  if (!existsSync(key) || !existsSync(crt)) return undefined;
  const pair = { keyPem: readFileSync(key, 'utf8'), certPem: readFileSync(crt, 'utf8') };
  if (keyMatches(pair.keyPem, pair.certPem)) return pair;
  if (remake) return undefined;
  throw new Error(`${key} is not the key of ${crt}; remove both to have them made again`);
}

function writePair(dir: string, name: string, pair: KeyAndCert): void {
  writeFileAtomic(join(dir, `${name}.key`), pair.keyPem, 0o600);
  writeFileAtomic(join(dir, `${name}.crt`), pair.certPem, 0o644);
}

function expiresSoon(certPem: string, now = Date.now()): boolean {
  return new Date(new X509Certificate(certPem).validTo).getTime() - now < RENEW_BEFORE_MS;
}

function signedBy(certPem: string, caPem: string): boolean {
  const cert = new X509Certificate(certPem);
  const ca = new X509Certificate(caPem);
  return cert.checkIssued(ca) && cert.verify(ca.publicKey);
}

/** A new CA (10 years, ECDSA P-256). A CA already on disk or in the store is kept, whatever its key. */
export function newCa(): KeyAndCert {
  return createCertificate({ commonName: 'berth-ca', days: CA_DAYS, isCa: true });
}

/** Loads or makes (or, given `sharedCa`, takes) the CA, the serving certificate for these SANs and the controller's client certificate. */
export function ensurePki(dataDir: string, sans: string[], sharedCa?: KeyAndCert): ControllerPki {
  const dir = pkiDir(dataDir);
  mkdirDurableSync(dir, 0o700);
  let ca = readPair(dir, 'ca');
  let createdCa = !ca;
  if (sharedCa) {
    // Several controllers (etcd store): the CA is the cluster's, kept in the store; the copy in
    // this data dir follows it, and what it signed here is made again when it changed.
    createdCa = ca?.certPem !== sharedCa.certPem || ca?.keyPem !== sharedCa.keyPem;
    ca = sharedCa;
    if (createdCa) writePair(dir, 'ca', ca);
  } else if (!ca) {
    ca = newCa();
    writePair(dir, 'ca', ca);
  }
  let serving = readPair(dir, 'server', true);
  let issuedServing = false;
  if (!serving || createdCa || !sansEqual(serving.certPem, sans) || !signedBy(serving.certPem, ca.certPem) || expiresSoon(serving.certPem)) {
    serving = createCertificate({ commonName: 'berth-controller', days: SERVING_DAYS, sans, issuer: ca });
    writePair(dir, 'server', serving);
    issuedServing = true;
  }
  let client = readPair(dir, CLIENT_NAME, true);
  let issuedClient = false;
  if (!client || createdCa || !signedBy(client.certPem, ca.certPem) || expiresSoon(client.certPem)) {
    client = createCertificate({
      commonName: CONTROLLER_CLIENT_SUBJECT.commonName,
      organization: CONTROLLER_CLIENT_SUBJECT.organization,
      usage: 'client',
      days: CLIENT_DAYS,
      issuer: ca,
    });
    writePair(dir, CLIENT_NAME, client);
    issuedClient = true;
  }
  return { ca, serving, caHash: caHash(ca.certPem), createdCa, issuedServing, client, issuedClient };
}
