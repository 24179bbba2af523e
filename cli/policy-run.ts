/**
 * Runs policy test cases through the real gateway: the same `Gateway` (identity, revocation,
 * request validation, policy, limits, masking, approval) `embedgate dev` and the Lambda run, wired
 * to in-memory local adapters. Nothing is re-implemented here: a case's answer is the record the
 * gateway wrote for it.
 *
 * What differs from a deployment, on purpose:
 * - Tokens are real JWTs, signed with a key made for the run for each trusted issuer and served
 *   to the real `TokenVerifier` as that issuer's JWKS (no network).
 * - Every model is answered by the built-in deterministic `local` provider (no upstream call).
 * - The pseudonym key is a fixed test key (pseudonyms differ from production; strategies do not).
 * - Amazon Comprehend is not called: with `masking.comprehend` on, only the built-in and custom
 *   detectors run (`notes` says so).
 */
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import type { GatewayConfig, IssuerConfig, ModelConfig } from '../shared/config';
import { Gateway, type GatewayRequest, type GatewayResponse } from '../lambda/core/gateway';
import { TokenVerifier } from '../lambda/core/identity';
import type { Principal } from '../lambda/core/principal';
import { uuidv7Ids } from '../lambda/core/ids';
import type { Archive, Clock, Revocation } from '../lambda/core/ports';
import { recordKey, type SessionRecord } from '../lambda/core/record';
import { issuerPrefix } from '../lambda/core/routes';
import { lazyMasker } from '../lambda/core/masking/runtime';
import { handleApprovalTask } from '../lambda/core/approvals/task';
import { InMemoryApprovalStore, LocalApprovalWorkflow } from '../lambda/adapters/local/approvals';
import { InMemoryRevocationList } from '../lambda/adapters/local/revocations';
import { createLocalProvider } from '../lambda/providers/local';
import type { PolicyCase } from './policy-cases';

/** The record a case produced, the response, and the principal the gateway verified (null if none). */
export interface CaseRun {
  readonly record: SessionRecord;
  readonly response: GatewayResponse;
  readonly principal: Principal | null;
}

const TEST_PSEUDONYM_KEY = 'embedgate-policy-test-pseudonym-key';

interface IssuerKey {
  readonly alg: string;
  readonly kid: string;
  readonly privateKey: CryptoKey;
  readonly jwk: JWK;
}

export class PolicyCaseRunner {
  /** What this run does not reproduce of the deployed gateway (printed by the CLI). */
  readonly notes: string[] = [];
  private readonly config: GatewayConfig;
  private readonly keys = new Map<string, Promise<IssuerKey>>();

  constructor(config: GatewayConfig) {
    if (config.masking?.comprehend?.enabled) {
      this.notes.push('masking.comprehend is on: Amazon Comprehend is not called here, only the built-in and custom detectors run');
      // Same version: the decision cites the configuration under test.
      config = { ...config, masking: { ...config.masking, comprehend: { ...config.masking.comprehend, enabled: false } } };
    }
    this.config = config;
  }

  /** Run one case to its record. Throws only for a case the configuration cannot express (an unknown issuer id). */
  async run(c: Pick<PolicyCase, 'principal' | 'request' | 'time' | 'revocations'>): Promise<CaseRun> {
    const config = this.config;
    const issuer = this.issuer(c.principal.issuer, c.principal.claims.iss);
    const now = c.time ? Date.parse(c.time) : Date.now();
    const clock: Clock = { now: () => now };
    const key = await this.key(issuer);
    const verifier = new TokenVerifier(config, { now: clock.now, fetch: this.jwksFetch(), verifiedTokenCacheSize: 0 });
    const revocations = new InMemoryRevocationList({
      now: clock.now,
      revocations: (c.revocations ?? []).map((r): Revocation => ({
        kind: r.kind,
        value: r.value,
        issuer: r.issuer === undefined ? null : (config.issuers.find((i) => i.id === r.issuer)?.issuer ?? r.issuer),
        reason: 'policy test',
        until: r.until === undefined ? null : Date.parse(r.until),
        createdAt: now,
        createdBy: 'embedgate policy test',
      })),
    });
    const records: SessionRecord[] = [];
    const archive: Archive = {
      put: async (r) => {
        records.push(r);
        return { key: recordKey(r) };
      },
    };
    const ids = uuidv7Ids(clock);
    const store = new InMemoryApprovalStore();
    const workflow: LocalApprovalWorkflow = new LocalApprovalWorkflow({
      runTask: (event) => handleApprovalTask(event, { config, store, workflow, archive, clock, ids }),
      notify: () => undefined,
      onError: () => undefined,
    });
    const masker = lazyMasker(config, { secrets: { get: async () => TEST_PSEUDONYM_KEY } });
    const gateway = new Gateway({
      config,
      verifier,
      provider: (m: ModelConfig) => createLocalProvider({ ...m, provider: 'local' }, { now: clock.now }),
      ...(masker ? { masker } : {}),
      archive,
      revocations,
      approvals: { store, workflow },
      clock,
      ids,
    });
    const iat = Math.floor(now / 1000);
    const token = await new SignJWT({ iss: issuer.issuer, aud: issuer.audiences[0], iat, exp: iat + 300, ...c.principal.claims })
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: issuer.requiredTyp ?? 'JWT' })
      .sign(key.privateKey);
    const req: GatewayRequest = {
      method: 'POST',
      path: `${issuerPrefix(config, issuer.id)}/v1/embeddings`,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'user-agent': 'embedgate-policy-test' },
      rawQueryString: '',
      body: JSON.stringify(c.request),
      isBase64Encoded: false,
      requestId: null,
      sourceIp: '127.0.0.1',
      domainName: 'policy-test.localhost',
      receivedAt: now,
    };
    const { response, record } = await gateway.handle(req);
    workflow.close();
    return { record, response, principal: record.principal && principalOf(record) };
  }

  private issuer(id: string | undefined, iss: unknown): IssuerConfig {
    const issuers = this.config.issuers;
    if (id === undefined) return issuers.find((i) => i.issuer === iss) ?? issuers[0]!;
    const found = issuers.find((i) => i.id === id);
    if (!found)
      throw new Error(`principal.issuer ${JSON.stringify(id)} is not a trusted issuer id (${issuers.map((i) => i.id).join(', ')})`);
    return found;
  }

  private key(issuer: IssuerConfig): Promise<IssuerKey> {
    let k = this.keys.get(issuer.id);
    if (!k) {
      const alg = issuer.algorithms[0]!;
      k = (async () => {
        const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
        const kid = `policy-test-${issuer.id}`;
        return { alg, kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
      })();
      this.keys.set(issuer.id, k);
    }
    return k;
  }

  /** Answers each issuer's discovery document and JWKS with the run's keys; nothing leaves the process. */
  private jwksFetch(): typeof fetch {
    return (async (input: string | URL | Request) => {
      const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
      for (const i of this.config.issuers) {
        const jwksUri = i.jwksUri ?? `${i.issuer.replace(/\/$/, '')}/.well-known/jwks.json`;
        if (url === `${i.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`) {
          return Response.json({ issuer: i.issuer, jwks_uri: jwksUri });
        }
        if (url === jwksUri) {
          const keys = this.keys.has(i.id) ? [(await this.keys.get(i.id)!).jwk] : [];
          return Response.json({ keys });
        }
      }
      return new Response('not found', { status: 404 });
    }) as typeof fetch;
  }
}

/** The principal a record names (the gateway verified it): identity for explaining and replaying. */
export function principalOf(r: Pick<SessionRecord, 'principal'>): Principal {
  const p = r.principal!;
  return {
    issuerId: p.issuer_id,
    issuer: p.issuer,
    subject: p.subject,
    clientId: p.client_id,
    groups: p.groups,
    scopes: p.scopes,
    tokenId: p.token_id,
    expiresAt: p.token_expires_at === null ? null : Date.parse(p.token_expires_at) / 1000,
  };
}
