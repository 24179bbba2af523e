/**
 * Crash safety of the write-ahead journal (issue 16): `embedgate dev` is killed (SIGKILL) in the
 * middle of a load; after a restart on the same archive directory, every request that got an
 * answer has its record in the archive (batch objects under sessions/), with the status the client
 * saw, and the journal holds nothing unarchived.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportRecords } from '../../cli/audit-export';
import { DirectoryObjects } from '../../lambda/adapters/local/archive-objects';
import { readJournal } from '../../lambda/adapters/local/journal';
import { generateTestKey, signToken, startJwksServer, type JwksServer } from '../support/jwks';
import { startFakeUpstream, type FakeUpstream } from '../support/fake-upstream';
import { LOAD_AUDIENCE, loadScenarioConfig, requestMix, runLoad, type LoadResult } from '../support/load-driver';
import { startGateway, type GatewayProcess } from '../support/security-harness';

let idp: JwksServer;
let upstream: FakeUpstream;
let archiveDir: string;
let first: GatewayProcess;
let result: LoadResult;
let killedAfter = 0;

beforeAll(async () => {
  const key = await generateTestKey('RS256', { kid: 'crash-1' });
  [idp, upstream] = await Promise.all([startJwksServer({ keys: [key] }), startFakeUpstream({ dimensions: 16 })]);
  archiveDir = await mkdtemp(join(tmpdir(), 'embedgate-crash-'));
  const config = loadScenarioConfig({ issuer: idp.issuer, jwksUri: idp.jwksUri, upstreamUrl: upstream.url, keyEnv: 'CRASH_KEY' });
  const env = { CRASH_KEY: 'sk-crash-test' };
  // Compaction every 150 ms: the kill lands with some segments archived and one open.
  first = await startGateway({ config, env, archiveDir, args: ['--compact-every-ms', '150'] });
  const now = Math.floor(Date.now() / 1000);
  const token = (sub: string, groups: string[], exp = now + 900) =>
    signToken(key, { iss: idp.issuer, aud: LOAD_AUDIENCE, sub, client_id: sub, groups, iat: now - 10, exp });
  const tokens = {
    indexer: await token('svc-indexer', ['indexers']),
    bot: await token('svc-bot', ['bots']),
    expired: await token('svc-old', ['indexers'], now - 60),
  };
  result = await runLoad({
    url: first.url,
    requests: 600,
    concurrency: 16,
    next: requestMix(3, tokens),
    onProgress: (done) => {
      if (done === 200 && first.alive()) {
        killedAfter = done;
        process.kill(first.pid, 'SIGKILL');
      }
    },
  });
  await first.stop();
  // Restart on the same directory (recovery runs before it listens), then stop it cleanly.
  const second = await startGateway({ config, env, archiveDir });
  await second.stop();
}, 120_000);

afterAll(async () => {
  await Promise.all([idp?.stop(), upstream?.close()]);
  if (archiveDir) await rm(archiveDir, { recursive: true, force: true });
});

it('the kill really cut the load short (some requests got no answer)', () => {
  expect(killedAfter).toBe(200);
  expect(result.transportErrors.length).toBeGreaterThan(0);
  expect(result.sessionIds.length).toBeGreaterThanOrEqual(200);
});

it('after the restart, every answered request has its record in the archive, with the status the client saw', async () => {
  const archived = new Map((await exportRecords(new DirectoryObjects(archiveDir))).map((r) => [r.session_id, r]));
  const missing = result.sessionIds.filter((id) => !archived.has(id));
  expect(missing).toEqual([]);
  for (const id of result.sessionIds) expect(archived.get(id)!.decision.status).toBe(result.statusById.get(id));
});

it('the journal holds nothing unarchived: every segment was archived (recovery) or closed cleanly', async () => {
  const { pending, archived } = await readJournal(archiveDir);
  expect(pending).toEqual([]);
  expect(archived.length).toBeGreaterThanOrEqual(result.sessionIds.length);
});
