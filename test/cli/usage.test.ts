/**
 * `embedgate usage` over a local archive written by the real Gateway with the limits stage: two
 * principals, one throttled; totals by principal, model, rule and day, as table, JSON and CSV;
 * the Athena SQL of the same named query; bad options.
 */
import { loadConfig, type GatewayConfigInput } from '../../shared/config';
import { Gateway } from '../../lambda/core/gateway';
import type { Principal } from '../../lambda/core/principal';
import type { EmbeddingProvider } from '../../lambda/core/ports';
import { RateLimiter } from '../../lambda/core/limits/stage';
import { InMemoryLimitStore } from '../../lambda/adapters/local/memory-limits';
import { FileArchive } from '../../lambda/adapters/local/file-archive';
import { InMemoryRevocationList } from '../../lambda/adapters/local/revocations';
import { usage } from '../../cli/usage';
import { tempDir } from '../audit/archive-fixture';

const ISSUER = 'https://idp.example.com';
const P = (subject: string, group: string): Principal => ({
  issuerId: 'corp',
  issuer: ISSUER,
  subject,
  clientId: subject,
  groups: [group],
  scopes: [],
  tokenId: null,
  expiresAt: null,
});
const TOKENS: Record<string, Principal> = { 'tok.batch': P('svc-batch', 'batch'), 'tok.agent': P('svc-agent', 'agents') };

let dir: string;

beforeAll(async () => {
  dir = await tempDir('usage');
  const config = loadConfig({
    issuers: [{ id: 'corp', issuer: ISSUER, audiences: 'embedgate', jwksUri: `${ISSUER}/jwks` }],
    models: [
      { name: 'small', provider: 'local', dimensions: 4 },
      { name: 'large', provider: 'local', dimensions: 4 },
    ],
    policy: {
      rules: [
        { id: 'batch', effect: 'allow', match: { groups: 'batch' }, rateLimits: { requestsPerMinute: 2 } },
        { id: 'agents', effect: 'allow', match: { groups: 'agents' }, models: 'small' },
      ],
    },
  } as GatewayConfigInput);
  const provider: EmbeddingProvider = {
    kind: 'local',
    embed: async (call) => ({
      vectors: call.input.map(() => Float32Array.of(1, 0, 0, 0)),
      usage: { promptTokens: 5 * call.input.length, totalTokens: 5 * call.input.length },
      upstream: { status: 200, latencyMs: 1, attempts: 1, batches: 1 },
    }),
  };
  let now = 0;
  let n = 0;
  const clock = { now: () => now };
  const gateway = new Gateway({
    config,
    verifier: { verify: async (t) => TOKENS[t]! },
    provider: () => provider,
    revocations: new InMemoryRevocationList(),
    archive: new FileArchive(dir),
    clock,
    ids: { sessionId: () => `session-${String(++n).padStart(4, '0')}` },
    limits: new RateLimiter({ config, store: new InMemoryLimitStore(), clock }),
  });
  const steps: [string, string, unknown][] = [
    ['2026-03-01T05:10:00.000Z', 'tok.batch', { model: 'small', input: ['a', 'b', 'c'] }],
    ['2026-03-01T05:10:01.000Z', 'tok.batch', { model: 'large', input: 'd' }],
    ['2026-03-01T05:10:02.000Z', 'tok.batch', { model: 'small', input: 'e' }], // throttled: 2 per minute
    ['2026-03-01T05:10:03.000Z', 'tok.agent', { model: 'small', input: ['f', 'g'] }],
    ['2026-03-02T09:00:00.000Z', 'tok.batch', { model: 'small', input: 'h' }],
  ];
  for (const [at, token, body] of steps) {
    now = Date.parse(at);
    const { archiveError } = await gateway.handle({
      method: 'POST',
      path: '/v1/embeddings',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      rawQueryString: '',
      body: JSON.stringify(body),
      isBase64Encoded: false,
      requestId: null,
      sourceIp: null,
      receivedAt: now,
    });
    if (archiveError) throw archiveError;
  }
});

async function run(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await usage([...args, '--archive-dir', dir, '--since', '2026-03-01', '--until', '2026-03-03'], {
    out: (t) => out.push(t),
    err: (t) => err.push(t),
    now: () => Date.parse('2026-03-05T00:00:00Z'),
  });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('embedgate usage', () => {
  it('by principal (the default): requests, allowed, throttled, items and tokens', async () => {
    const r = await run(['--format', 'json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toEqual([
      { issuer: ISSUER, subject: 'svc-agent', requests: 1, allowed: 1, throttled: 0, items: 2, tokens: 10 },
      { issuer: ISSUER, subject: 'svc-batch', requests: 4, allowed: 3, throttled: 1, items: 5, tokens: 25 },
    ]);
  });

  it('by model, rule and day', async () => {
    expect(JSON.parse((await run(['--by', 'model', '--format', 'json'])).out)).toEqual([
      { model: 'large', requests: 1, allowed: 1, throttled: 0, items: 1, tokens: 5 },
      { model: 'small', requests: 4, allowed: 3, throttled: 1, items: 6, tokens: 30 },
    ]);
    expect(JSON.parse((await run(['--by=rule', '--format', 'json'])).out)).toEqual([
      { rule_id: 'agents', requests: 1, allowed: 1, throttled: 0, items: 2, tokens: 10 },
      { rule_id: 'batch', requests: 4, allowed: 3, throttled: 1, items: 5, tokens: 25 },
    ]);
    expect(JSON.parse((await run(['--by', 'day', '--format', 'json'])).out)).toEqual([
      { day: '2026-03-01', requests: 4, allowed: 3, throttled: 1, items: 6, tokens: 30 },
      { day: '2026-03-02', requests: 1, allowed: 1, throttled: 0, items: 1, tokens: 5 },
    ]);
  });

  it('as CSV and as a table; filtered to one principal', async () => {
    const csv = await run(['--by', 'model', '--format', 'csv', '--principal', 'svc-agent']);
    expect(csv.out.trim().split('\r\n')).toEqual(['model,requests,allowed,throttled,items,tokens', 'small,1,1,0,2,10']);
    const table = await run(['--by', 'rule']);
    expect(table.out).toMatch(/rule_id\s+requests\s+allowed\s+throttled\s+items\s+tokens/);
    expect(table.out).toMatch(/batch\s+4\s+3\s+1\s+5\s+25/);
  });

  it('--athena --sql prints the Athena SQL of the same named query', async () => {
    const out: string[] = [];
    const code = await usage(['--by', 'day', '--athena', '--sql', '--database', 'db', '--table', 'sessions', '--since', '2026-03-01'], {
      out: (t) => out.push(t),
      err: () => undefined,
      now: () => Date.parse('2026-03-05T00:00:00Z'),
    });
    expect(code).toBe(0);
    expect(out.join('\n')).toMatch(/SELECT dt AS day,[\s\S]*starts_with\(decision\.reason, 'quota_'\)[\s\S]*FROM "db"\."sessions"/);
  });

  it('fails when --by is not principal, model, rule or day', async () => {
    await expect(usage(['--by', 'ip'])).rejects.toThrow(/--by must be one of principal, model, rule, day, got ip/);
    await expect(usage(['--by'])).rejects.toThrow(/--by needs a value/);
  });
});
