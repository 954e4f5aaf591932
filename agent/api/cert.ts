// The agent API's own certificate: self-signed, kept in the data directory, sent to the
// controller at registration so that the controller trusts exactly this one. A new one has an
// ECDSA P-256 key; one made by an earlier version (RSA) is kept while it matches its address.
import { promises as fs } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { isIP } from 'node:net';
import { certificateSans, createCertificate, keyMatches, normalizeV6, type KeyAndCert } from '../../shared/certs.js';
import { writeFileDurable } from '../../shared/fs-durable.js';

const DAYS = 3650;

async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** `<dataDir>/agent.crt` and `agent.key`, made again when the address is not among its SANs. */
export async function loadOrCreateAgentCert(dataDir: string, address: string): Promise<KeyAndCert> {
  const keyFile = path.join(dataDir, 'agent.key');
  const certFile = path.join(dataDir, 'agent.crt');
  const [keyPem, certPem] = await Promise.all([readIfExists(keyFile), readIfExists(certFile)]);
  const wanted = isIP(address) === 6 ? normalizeV6(address) : address;
  if (keyPem && certPem && keyMatches(keyPem, certPem) && certificateSans(certPem).includes(wanted)) return { keyPem, certPem };
  const made = createCertificate({ commonName: `berth-agent ${hostname()}`, days: DAYS, sans: [...new Set([address, '127.0.0.1', 'localhost'])] });
  await fs.mkdir(dataDir, { recursive: true });
  // Key first: a crash between the two leaves a pair that does not match, made again at start.
  await writeFileDurable(keyFile, `${made.keyPem.trimEnd()}\n`, 0o600);
  await writeFileDurable(certFile, made.certPem, 0o644);
  return made;
}
