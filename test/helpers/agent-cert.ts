// The certificate a hand-made registration (a node without a real agent behind it) presents
// for its https agent URL: a real agent certificate, made once per test process.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadOrCreateAgentCert } from '../../agent/api/cert.js';

let made: Promise<string> | undefined;

/** PEM of a self-signed agent certificate for 127.0.0.1. */
export function agentCertPem(): Promise<string> {
  made ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-agent-cert-'));
    try {
      return (await loadOrCreateAgentCert(dir, '127.0.0.1')).certPem;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  })();
  return made;
}
