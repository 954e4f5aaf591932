// Admin routes for tokens (docs/api.md): create join and viewer tokens, list every credential, revoke
// one by id. A revoked node credential makes the node NotReady at once.
import { z } from 'zod';
import { StatusError, notFound } from '../../errors.js';
import { sendJson, type Router } from '../http.js';
import { requireAdmin, type ApiContext } from '../context.js';
import type { Store } from '../../store/types.js';
import { createToken, expired, JOIN_TOKEN_TTL_MS, tokenInfo } from '../../auth/tokens.js';

export interface TokenRouteDeps {
  store: Store;
  /** What an agent runs to join with a token (undefined: not known). */
  joinCommand?: (token: string) => string;
  /** Called after a node credential is revoked. */
  onNodeRevoked?: (node: string) => Promise<void> | void;
  /** A revocation of the caller's own token (made after its answer) failed. */
  onRevokeFailed?: (id: string, err: unknown) => void;
}

/** Longest lifetime of a join token: a year. */
const MAX_TTL_SECONDS = 365 * 24 * 3600;

const createSchema = z.strictObject({
  /** Omitted: 24 h; 0: never expires. */
  ttlSeconds: z
    .number()
    .int('must be whole seconds')
    .min(0, 'must not be negative')
    .max(MAX_TTL_SECONDS, `must be at most ${MAX_TTL_SECONDS} (a year)`)
    .optional(),
  description: z.string().max(256, 'must be at most 256 characters').optional(),
  /** Omitted: a join token; `viewer`: a read-only token for people (the status page, `berth get`). */
  role: z.enum(['join', 'viewer'], { message: 'must be "join" or "viewer"' }).optional(),
});

const TOKENS_ADMIN = 'tokens need the admin token';

export function addTokenRoutes(router: Router<ApiContext>, deps: TokenRouteDeps): void {
  const { store } = deps;
  router
    // Who the caller is (any valid token): the status page shows its actions to the admin only.
    .on('GET', '/api/v1/whoami', (c) => {
      const who = c.who;
      sendJson(c.reply, 200, {
        apiVersion: 'v1',
        kind: 'WhoAmI',
        role: who.role,
        ...(who.role === 'node' ? { node: who.node } : {}),
        ...(who.token ? { token: { id: who.token.id, ...(who.token.expires ? { expires: new Date(who.token.expires).toISOString() } : {}) } } : {}),
      });
    })
    .on('GET', '/api/v1/tokens', (c) => {
      requireAdmin(c, TOKENS_ADMIN);
      sendJson(c.reply, 200, { apiVersion: 'v1', kind: 'TokenList', items: store.listTokens().map((t) => tokenInfo(t)) });
    })
    .on('POST', '/api/v1/tokens', async (c) => {
      requireAdmin(c, TOKENS_ADMIN);
      const parsed = createSchema.safeParse(c.body ?? {});
      if (!parsed.success) {
        const causes = parsed.error.issues.map((i) => ({ field: i.path.join('.') || '(body)', message: i.message }));
        throw new StatusError('Invalid', `invalid token request: ${causes.map((x) => `${x.field}: ${x.message}`).join('; ')}`, causes);
      }
      const { ttlSeconds, description, role = 'join' } = parsed.data;
      // No ttlSeconds: a day, as kubeadm; 0: never expires.
      const ttlMs = ttlSeconds === undefined ? JOIN_TOKEN_TTL_MS : ttlSeconds * 1000;
      const token = await createToken(store, role, role, { ttlMs, ...(description ? { description } : {}) });
      const info = tokenInfo(store.listTokens().find((t) => t.id === token.split('.')[0])!);
      const join = role === 'join' && deps.joinCommand ? { joinCommand: deps.joinCommand(token) } : {};
      sendJson(c.reply, 201, { apiVersion: 'v1', kind: 'Token', ...info, token, ...join });
    })
    .on('DELETE', '/api/v1/tokens/:id', async (c, p) => {
      requireAdmin(c, TOKENS_ADMIN);
      const found = store.listTokens().find((t) => t.id === p.id);
      if (!found) throw notFound('tokens', p.id);
      if (found.role === 'admin' && !store.listTokens().some((t) => t.role === 'admin' && t.id !== p.id && !expired(t))) {
        throw new StatusError(
          'Conflict',
          `token ${p.id} is the last admin token; revoking it would lock every administrator out. ` +
            'Make another first (berth controller reset-admin --data-dir DIR on the controller host), then revoke this one',
        );
      }
      const revoke = async () => {
        await store.deleteTokenById(p.id);
        if (found.role === 'node') await deps.onNodeRevoked?.(found.subject);
      };
      // Revoking closes everything the token holds open, this request included: a caller
      // revoking its own token gets the answer first.
      const self = c.who.token?.id === p.id;
      if (!self) await revoke();
      sendJson(c.reply, 200, { kind: 'Status', status: 'Success', details: { name: p.id, kind: 'tokens' } });
      if (self)
        c.res.once('finish', () => {
          revoke().catch((err: unknown) => deps.onRevokeFailed?.(p.id, err));
        });
    });
}
