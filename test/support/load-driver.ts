/**
 * Load with nothing lost: the scenario, the client and the archive audit shared by the load test
 * (test/security/load.test.ts, a small size in `npm test`) and the benchmark (bench/load.mjs, the
 * full size, which imports the compiled copy from dist/).
 *
 * - {@link loadScenarioConfig}: the gateway configuration (one issuer, a remote model behind the
 *   fake upstream with short timeouts and one retry, a local model, two rules).
 * - {@link faultScript}: seeded random upstream faults (500, 429, resets, invalid JSON, slow
 *   answers, hangs past the timeout) for the fake upstream.
 * - {@link requestMix}: seeded random client requests (allowed, forbidden, invalid, bad tokens,
 *   model lists).
 * - {@link runLoad}: N requests at concurrency C over keep-alive HTTP, counting statuses and
 *   keeping every session id.
 * - {@link auditArchive}: the records against what the clients saw: one per request, same
 *   status, no duplicates, nothing unknown.
 * - {@link sampleRss}: resident set size of a process (Linux /proc), for memory-flatness checks.
 */
import { readFileSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import type { FakeBehaviour, FakeRequest } from './fake-upstream';
import { readLocalArchive } from '../../cli/archive-reader';

export const LOAD_AUDIENCE = 'https://embedgate.load.test';

/** xorshift32: a small seeded PRNG, uniform in [0, 1). */
export function prng(seed: number): () => number {
  let x = seed >>> 0 || 0x9e3779b9;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
}

/** murmur3's 32-bit finaliser: a well-mixed hash of two integers, for per-request seeds. */
export function mix(a: number, b: number): number {
  let h = (a ^ Math.imul(b + 1, 0x9e3779b1)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

/** The gateway configuration of the load scenario. */
export function loadScenarioConfig(o: { issuer: string; jwksUri: string; upstreamUrl: string; keyEnv: string }): object {
  return {
    issuers: [{ id: 'corp', issuer: o.issuer, jwksUri: o.jwksUri, audiences: [LOAD_AUDIENCE] }],
    models: [
      {
        name: 'remote',
        provider: 'openai-compatible',
        upstreamModel: 'text-embedding-3-small',
        baseUrl: o.upstreamUrl,
        apiKey: { source: 'env', name: o.keyEnv },
        upstream: { maxRetries: 1, timeoutMs: 300, maxBatchSize: 4 },
      },
      { name: 'local-small', provider: 'local', dimensions: 64, limits: { maxInputs: 16 } },
    ],
    policy: {
      rules: [
        { id: 'indexers', effect: 'allow', match: { issuer: 'corp', groups: 'indexers' }, models: '*' },
        { id: 'bots', effect: 'allow', match: { issuer: 'corp', groups: 'bots' }, models: 'local-*', limits: { maxInputs: 4 } },
      ],
    },
  };
}

/**
 * Seeded upstream faults: about one upstream request in five fails or is slow. The choice depends on
 * the request's arrival number, so it is reproducible for a sequential client and random enough
 * under concurrency.
 */
export function faultScript(seed: number, faultRate = 0.2): (req: FakeRequest, n: number) => FakeBehaviour | undefined {
  return (_req, n) => {
    const r = mix(seed, n) / 0x100000000;
    if (r >= faultRate) return { kind: 'success', latencyMs: Math.floor((r * 1000) % 3) };
    const f = r / faultRate; // uniform in [0, 1)
    if (f < 0.25) return { kind: 'status', status: 500 };
    if (f < 0.45) return { kind: 'status', status: 429 };
    if (f < 0.6) return { kind: 'reset' };
    if (f < 0.75) return { kind: 'invalid-json' };
    if (f < 0.93) return { kind: 'success', latencyMs: 120 };
    return { kind: 'hang' };
  };
}

/** One client request. */
export interface LoadRequest {
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
  /** What the request is (for reporting). */
  readonly kind: string;
}

/** Tokens the request mix uses. */
export interface LoadTokens {
  /** group `indexers`: every model. */
  readonly indexer: string;
  /** group `bots`: local models, at most 4 inputs. */
  readonly bot: string;
  /** expired. */
  readonly expired: string;
}

/** Seeded request mix: request i is always the same request for the same seed. */
export function requestMix(seed: number, tokens: LoadTokens): (i: number) => LoadRequest {
  const json = { 'content-type': 'application/json' };
  const auth = (t: string) => ({ ...json, authorization: `Bearer ${t}` });
  return (i) => {
    const rnd = prng(mix(seed ^ 0x5bd1e995, i));
    const r = rnd();
    const items = 1 + Math.floor(rnd() * 6);
    const input = Array.from({ length: items }, (_, k) => `load item ${i}.${k} ${'lorem ipsum '.repeat(1 + Math.floor(rnd() * 5))}`);
    const embed = (token: string, model: string, kind: string, body: object = { model, input }): LoadRequest => ({
      method: 'POST',
      path: '/v1/embeddings',
      headers: auth(token),
      body: JSON.stringify(body),
      kind,
    });
    if (r < 0.55) return embed(tokens.indexer, 'remote', 'remote');
    if (r < 0.7) return embed(tokens.bot, 'local-small', 'local');
    if (r < 0.75) return embed(tokens.bot, 'local-small', 'too-many-inputs', { model: 'local-small', input: ['a', 'b', 'c', 'd', 'e'] });
    if (r < 0.8) return { method: 'GET', path: '/v1/models', headers: auth(tokens.bot), kind: 'models' };
    if (r < 0.86) return embed(tokens.bot, 'remote', 'forbidden-model');
    if (r < 0.91)
      return {
        method: 'POST',
        path: '/v1/embeddings',
        headers: auth(tokens.indexer),
        body: '{"model":"remote","input":',
        kind: 'invalid-json',
      };
    if (r < 0.96) return embed(tokens.expired, 'remote', 'expired-token');
    return { method: 'POST', path: '/v1/embeddings', headers: json, body: JSON.stringify({ model: 'remote', input }), kind: 'no-token' };
  };
}

/** Options of {@link runLoad}. */
export interface LoadOptions {
  /** Gateway base URL. */
  readonly url: string;
  readonly requests: number;
  readonly concurrency: number;
  readonly next: (i: number) => LoadRequest;
  /** Called after each response with the number done so far. */
  readonly onProgress?: (done: number) => void;
}

/** What the clients saw. */
export interface LoadResult {
  readonly requests: number;
  readonly durationMs: number;
  /** Responses per HTTP status. */
  readonly byStatus: Readonly<Record<string, number>>;
  /** Responses per request kind and status, e.g. `remote 502`. */
  readonly byKind: Readonly<Record<string, number>>;
  /** Session id of every response, in completion order. */
  readonly sessionIds: readonly string[];
  readonly statusById: ReadonlyMap<string, number>;
  /** Responses without `x-embedgate-session-id`. */
  readonly withoutSessionId: number;
  /** Session ids that came back more than once. */
  readonly duplicateSessionIds: readonly string[];
  /** Requests that got no HTTP answer at all. */
  readonly transportErrors: readonly string[];
  /** Client-side latency of every request, ms, sorted. */
  readonly latenciesMs: readonly number[];
}

/** Run `requests` requests at `concurrency` over keep-alive connections. */
export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: o.concurrency });
  const u = new URL(o.url);
  const byStatus: Record<string, number> = {};
  const byKind: Record<string, number> = {};
  const sessionIds: string[] = [];
  const statusById = new Map<string, number>();
  const duplicates: string[] = [];
  const transportErrors: string[] = [];
  const latencies: number[] = [];
  let withoutSessionId = 0;
  let nextIndex = 0;
  let done = 0;

  const one = (req: LoadRequest): Promise<{ status: number; sessionId: string | undefined }> =>
    new Promise((resolve, reject) => {
      const headers: Record<string, string | number> = { ...req.headers };
      if (req.body !== undefined) headers['content-length'] = Buffer.byteLength(req.body);
      const r = httpRequest({ host: u.hostname, port: u.port, method: req.method, path: req.path, headers, agent }, (res) => {
        res.resume();
        res.on('end', () => {
          const sid = res.headers['x-embedgate-session-id'];
          resolve({ status: res.statusCode!, sessionId: typeof sid === 'string' ? sid : undefined });
        });
        res.on('error', reject);
      });
      r.on('error', reject);
      r.end(req.body);
    });

  const worker = async (): Promise<void> => {
    for (;;) {
      const i = nextIndex++;
      if (i >= o.requests) return;
      const req = o.next(i);
      const t0 = performance.now();
      try {
        const { status, sessionId } = await one(req);
        latencies.push(performance.now() - t0);
        byStatus[status] = (byStatus[status] ?? 0) + 1;
        byKind[`${req.kind} ${status}`] = (byKind[`${req.kind} ${status}`] ?? 0) + 1;
        if (!sessionId) withoutSessionId++;
        else {
          if (statusById.has(sessionId)) duplicates.push(sessionId);
          statusById.set(sessionId, status);
          sessionIds.push(sessionId);
        }
      } catch (e) {
        transportErrors.push(`#${i} ${req.kind}: ${(e as Error).message}`);
      }
      o.onProgress?.(++done);
    }
  };

  const t0 = performance.now();
  await Promise.all(Array.from({ length: o.concurrency }, worker));
  const durationMs = performance.now() - t0;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return {
    requests: o.requests,
    durationMs,
    byStatus,
    byKind,
    sessionIds,
    statusById,
    withoutSessionId,
    duplicateSessionIds: duplicates,
    transportErrors,
    latenciesMs: latencies,
  };
}

/** The records against the clients' view. Every list is empty and the counts equal when nothing was lost. */
export interface ArchiveAudit {
  readonly records: number;
  /** Records per `decision.status`. */
  readonly byStatus: Readonly<Record<string, number>>;
  /** Session ids with more than one record. */
  readonly duplicateRecords: readonly string[];
  /** Responses whose session id has no record. */
  readonly missingRecords: readonly string[];
  /** Records no client saw. */
  readonly unknownRecords: readonly string[];
  /** Records whose status differs from the response's. */
  readonly statusMismatches: readonly string[];
  /** Records with `internal_error`. */
  readonly internalErrors: number;
}

export async function auditArchive(archiveDir: string, result: LoadResult): Promise<ArchiveAudit> {
  const records = await readLocalArchive(archiveDir);
  const byStatus: Record<string, number> = {};
  const seen = new Set<string>();
  const duplicateRecords: string[] = [];
  const unknownRecords: string[] = [];
  const statusMismatches: string[] = [];
  let internalErrors = 0;
  for (const r of records) {
    byStatus[r.decision.status] = (byStatus[r.decision.status] ?? 0) + 1;
    if (seen.has(r.session_id)) duplicateRecords.push(r.session_id);
    seen.add(r.session_id);
    const status = result.statusById.get(r.session_id);
    if (status === undefined) unknownRecords.push(r.session_id);
    else if (status !== r.decision.status) statusMismatches.push(`${r.session_id}: record ${r.decision.status}, client ${status}`);
    if (r.decision.reason === 'internal_error') internalErrors++;
  }
  const missingRecords = result.sessionIds.filter((id) => !seen.has(id));
  return { records: records.length, byStatus, duplicateRecords, missingRecords, unknownRecords, statusMismatches, internalErrors };
}

/** Resident set size of `pid` in bytes (Linux), or null where /proc is not available. */
export function sampleRss(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}
