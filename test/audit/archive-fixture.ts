/**
 * A generated archive with known contents: the real `Gateway` writes every record through the
 * real `FileArchive`, driven by a scripted list of requests at fixed instants (tokens are
 * resolved by a table of principals, embeddings come from a deterministic fake provider).
 *
 *   2026-03-01 05:10  svc-indexer  POST small  allow
 *   2026-03-01 05:20  svc-indexer  POST large  allow
 *   2026-03-01 05:30  svc-bot      POST large  deny (no_matching_rule, 403)
 *   2026-03-01 06:05  svc-bot      POST small  allow
 *   2026-03-01 06:10  (no token)   POST        deny (missing_token, 401)
 *   2026-03-01 06:15  (bad token)  POST        deny (bad_signature, 401)
 *   2026-03-01 07:40  svc-bot      POST small  invalid (3 inputs, the rule allows 2)
 *   2026-03-01 07:45  svc-indexer  POST small  error (upstream 503, upstream_5xx)
 *   2026-03-01 07:50  svc-bot      GET models  allow (models_listed)
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type GatewayConfigInput } from '../../shared/config';
import { UpstreamError, unauthenticated } from '../../lambda/core/errors';
import { Gateway, type GatewayRequest } from '../../lambda/core/gateway';
import type { Principal } from '../../lambda/core/principal';
import type { EmbeddingCall, EmbeddingProvider, EmbeddingResult } from '../../lambda/core/ports';
import type { SessionRecord } from '../../lambda/core/record';
import { FileArchive } from '../../lambda/adapters/local/file-archive';
import { InMemoryRevocationList } from '../../lambda/adapters/local/revocations';

export const ISSUER = 'https://idp.example.com';
export const INDEXER: Principal = {
  issuerId: 'corp',
  issuer: ISSUER,
  subject: 'svc-indexer',
  clientId: 'indexer',
  groups: ['search-team', 'ml'],
  scopes: ['embeddings'],
  tokenId: 'jti-1',
  expiresAt: 1_900_000_000,
};
export const BOT: Principal = { ...INDEXER, subject: 'svc-bot', clientId: 'bot', groups: ['support'], tokenId: 'jti-2' };
const TOKENS: Record<string, Principal> = { 'tok.indexer': INDEXER, 'tok.bot': BOT };

const DOC: GatewayConfigInput = {
  issuers: [{ id: 'corp', issuer: ISSUER, audiences: 'embedgate', jwksUri: `${ISSUER}/jwks` }],
  models: [
    { name: 'small', provider: 'local', dimensions: 8 },
    { name: 'large', provider: 'local', dimensions: 16 },
  ],
  policy: {
    rules: [
      { id: 'search-all', effect: 'allow', match: { groups: 'search-team' }, models: '*' },
      { id: 'support-small', effect: 'allow', match: { groups: 'support' }, models: 'small', limits: { maxInputs: 2 } },
    ],
  },
};

export interface Step {
  readonly at: string;
  readonly token?: string;
  readonly method?: string;
  readonly path?: string;
  readonly body?: unknown;
  /** The provider fails this call with an upstream 503. */
  readonly upstreamFails?: boolean;
}

export const SCRIPT: readonly Step[] = [
  { at: '2026-03-01T05:10:00.000Z', token: 'tok.indexer', body: { model: 'small', input: ['a', 'bb'] } },
  { at: '2026-03-01T05:20:00.000Z', token: 'tok.indexer', body: { model: 'large', input: 'ccc' } },
  { at: '2026-03-01T05:30:00.000Z', token: 'tok.bot', body: { model: 'large', input: 'dddd' } },
  { at: '2026-03-01T06:05:00.000Z', token: 'tok.bot', body: { model: 'small', input: ['e', 'f'] } },
  { at: '2026-03-01T06:10:00.000Z', body: { model: 'small', input: 'g' } },
  { at: '2026-03-01T06:15:00.000Z', token: 'forged', body: { model: 'small', input: 'h' } },
  { at: '2026-03-01T07:40:00.000Z', token: 'tok.bot', body: { model: 'small', input: ['i', 'j', 'k'] } },
  { at: '2026-03-01T07:45:00.000Z', token: 'tok.indexer', body: { model: 'small', input: 'l' }, upstreamFails: true },
  { at: '2026-03-01T07:50:00.000Z', token: 'tok.bot', method: 'GET', path: '/v1/models' },
];

class FakeProvider implements EmbeddingProvider {
  readonly kind = 'local';
  failNext = false;
  async embed(call: EmbeddingCall): Promise<EmbeddingResult> {
    if (this.failNext) {
      throw new UpstreamError('upstream failed', {
        status: 502,
        type: 'upstream_error',
        code: 'upstream_error',
        reason: 'upstream_5xx',
        upstream: { status: 503, latencyMs: 40.5, attempts: 3, batches: 1 },
      });
    }
    const dims = call.dimensions ?? 8;
    return {
      vectors: call.input.map((_x, i) => Float32Array.from({ length: dims }, (_v, j) => (i + 1) / (j + 2))),
      usage: { promptTokens: 3, totalTokens: 3 },
      upstream: { status: 200, latencyMs: 12.25, attempts: 1, batches: 1 },
    };
  }
}

/** Runs `steps` through a real Gateway writing to a FileArchive at `dir`; returns the records. */
export async function writeSessions(dir: string, steps: readonly Step[] = SCRIPT): Promise<SessionRecord[]> {
  const config = loadConfig(DOC);
  const provider = new FakeProvider();
  let now = 0;
  let n = 0;
  const gateway = new Gateway({
    config,
    verifier: {
      async verify(token) {
        const p = TOKENS[token];
        if (!p) throw unauthenticated('The token signature is invalid.', 'bad_signature');
        return p;
      },
    },
    provider: () => provider,
    revocations: new InMemoryRevocationList(),
    archive: new FileArchive(dir),
    clock: { now: () => (now += 1) },
    // Unique across calls on one directory (a second call adds records, it does not reuse ids).
    ids: { sessionId: () => `session-${now}-${String(++n).padStart(4, '0')}` },
  });
  const records: SessionRecord[] = [];
  for (const s of steps) {
    now = Date.parse(s.at);
    provider.failNext = s.upstreamFails === true;
    const req: GatewayRequest = {
      method: s.method ?? 'POST',
      path: s.path ?? '/v1/embeddings',
      headers: {
        'content-type': 'application/json',
        ...(s.token ? { authorization: `Bearer ${s.token}` } : {}),
        'user-agent': 'audit-fixture',
      },
      rawQueryString: '',
      body: s.body === undefined ? undefined : JSON.stringify(s.body),
      isBase64Encoded: false,
      requestId: `req-${records.length + 1}`,
      sourceIp: s.token === 'forged' ? '203.0.113.9' : '10.0.0.7',
      receivedAt: now,
    };
    const { record, archiveError } = await gateway.handle(req);
    if (archiveError) throw archiveError;
    records.push(record);
  }
  return records;
}

/** A fresh temporary directory. */
export function tempDir(name: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `embedgate-${name}-`));
}
