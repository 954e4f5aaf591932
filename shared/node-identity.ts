// The agent's identity key: an Ed25519 key pair made on the agent's first start and kept in its
// data directory. Its public key is stored with the node at the first join; an agent that lost
// its node token joins again with the join token and a signature by the same key, and gets a
// fresh node credential instead of a refusal (docs/security.md).
import { createPublicKey, verify, type KeyObject } from 'node:crypto';

/** How far the signed time may be from the controller's clock. */
export const IDENTITY_MAX_SKEW_MS = 5 * 60_000;

/** What the agent signs: the purpose, the node name and the time, one per line. */
export function identityMessage(name: string, timeMs: number): Buffer {
  return Buffer.from(`berth-node-join/v1\n${name}\n${timeMs}\n`, 'utf8');
}

export interface IdentityProof {
  /** SPKI PEM of the agent's Ed25519 public key. */
  publicKey: string;
  /** Epoch ms when it was signed. */
  time: number;
  /** base64 Ed25519 signature of identityMessage(name, time). */
  signature: string;
}

function ed25519(pem: string): KeyObject | string {
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (err) {
    return `not a public key: ${(err as Error).message}`;
  }
  if (key.asymmetricKeyType !== 'ed25519') return `an ${key.asymmetricKeyType ?? 'unknown'} key, not ed25519`;
  return key;
}

/** Canonical SPKI PEM of a public key, so that two spellings of one key compare equal. */
export function canonicalPublicKey(pem: string): string | undefined {
  const key = ed25519(pem);
  return typeof key === 'string' ? undefined : key.export({ type: 'spki', format: 'pem' }).toString();
}

/** Why the proof does not show possession of its key for `name` now; undefined when it does. */
export function identityProofProblem(proof: IdentityProof, name: string, now: number): string | undefined {
  const key = ed25519(proof.publicKey);
  if (typeof key === 'string') return `publicKey: ${key}`;
  if (!Number.isFinite(proof.time) || Math.abs(now - proof.time) > IDENTITY_MAX_SKEW_MS)
    return `time: ${proof.time} is more than ${IDENTITY_MAX_SKEW_MS / 60_000} minutes from the controller's clock`;
  let ok = false;
  try {
    ok = verify(null, identityMessage(name, proof.time), key, Buffer.from(proof.signature, 'base64'));
  } catch {
    ok = false;
  }
  return ok ? undefined : 'signature: does not verify with publicKey';
}
