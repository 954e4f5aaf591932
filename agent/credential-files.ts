// The agent's credentials in its data dir (node credential, the agent API's key)
// are 0600 at every start, whatever an older version, a restore or an umask
// left (docs/security.md, "Files"). The data dir itself stays traversable: pods' volumes live
// below it.
import { chmodExisting } from '../shared/file-modes.js';
import path from 'node:path';

export const CREDENTIAL_FILES = ['node-token', 'agent.key'];

export function restrictCredentialFiles(dataDir: string): void {
  chmodExisting(
    CREDENTIAL_FILES.map((f) => path.join(dataDir, f)),
    0o600,
  );
}
