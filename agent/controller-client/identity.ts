// The agent's identity key (shared/node-identity.ts): <dataDir>/agent-identity.key, made on the
// first start, mode 0600; never sent, only its public key and signatures.
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import path from 'node:path';
import { identityMessage, type IdentityProof } from '../../shared/node-identity.js';
import { readSecret, writeSecret } from './secrets.js';

export interface AgentIdentity {
  publicKey: string;
  /** A fresh proof of possession for joining as `name`. */
  proof(name: string, now?: number): IdentityProof;
}

export function identityKeyFile(dataDir: string): string {
  return path.join(dataDir, 'agent-identity.key');
}

function identityOf(key: KeyObject): AgentIdentity {
  const publicKey = createPublicKey(key).export({ type: 'spki', format: 'pem' }).toString();
  return {
    publicKey,
    proof: (name, now = Date.now()) => ({ publicKey, time: now, signature: sign(null, identityMessage(name, now), key).toString('base64') }),
  };
}

/** Loads the key, or makes and saves one; a file that holds no Ed25519 key is an error (never replaced silently). */
export async function loadOrCreateIdentity(dataDir: string): Promise<AgentIdentity> {
  const file = identityKeyFile(dataDir);
  const pem = await readSecret(file);
  if (pem) {
    let key: KeyObject;
    try {
      key = createPrivateKey(pem);
    } catch (err) {
      throw new Error(`${file} holds no usable private key (${(err as Error).message}); remove it only if this node is forgotten (berth node forget)`);
    }
    if (key.asymmetricKeyType !== 'ed25519') throw new Error(`${file} holds an ${key.asymmetricKeyType} key, not ed25519`);
    return identityOf(key);
  }
  const { privateKey } = generateKeyPairSync('ed25519');
  await writeSecret(file, privateKey.export({ type: 'pkcs8', format: 'pem' }).toString().trimEnd());
  return identityOf(privateKey);
}
