/**
 * `npm run demo`: the whole gateway on this machine, end to end, offline.
 *
 * Starts the embedded OIDC issuer, `embedgate dev` with the local model and a fresh archive, then,
 * as two service principals with tokens fetched from the issuer over HTTP, uses the official
 * `openai` client to: embed; be denied a model; send an invalid request; present an expired and
 * a forged token; have sensitive data masked (and blocked); be revoked at runtime and reinstated;
 * have a request held for approval, refused to its own requester, approved by a reviewer with
 * `embedgate approvals`, used once and refused on replay; be throttled by a per-principal rate
 * limit (429, Retry-After) and see it in the usage report. Prints the audit table of the records
 * written and the approval's chain. Exits 0 only if every step behaved as expected and every
 * request left exactly one record.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { SignJWT, generateKeyPair, decodeProtectedHeader } from 'jose';
import OpenAI from 'openai';
import { CLI_ENV } from '../shared/contract';
import { formatAuditTable, readLocalArchive } from './archive-reader';
import { buildConfig, devPublicClients, readDevConfigFile } from './dev-config';
import { fetchClientCredentialsToken, startDevIssuer } from './issuer';
import { revoke, unrevoke } from './revoke';
import { approvals } from './approvals';
import { policy } from './policy';
import { usage } from './usage';
import type { ApprovalExecutionInput } from '../lambda/core/approvals/task';

const CONFIG = resolve(__dirname, '../../examples/dev.json');

async function demo(): Promise<number> {
  // Set before the handler modules load: Powertools reads them when its instances are created.
  process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
  process.env.POWERTOOLS_LOG_LEVEL ??= 'WARN';
  // The demo's pseudonymization key (examples/dev.json reads it from this variable).
  process.env[CLI_ENV.examplePseudonymKey] ??= 'demo-pseudonym-key-not-for-production';
  const { startDevServer } = await import('./dev-server.js');
  const file = readDevConfigFile(CONFIG);
  const d = file.dev.issuer!;
  // One more client for step 4: the indexer's credentials, with 1-second tokens.
  const expiringClient = { ...d.clients.find((c) => c.clientId === 'batch-indexer')!, clientId: 'nightly-job', accessTokenTtlSeconds: 1 };
  const issuer = await startDevIssuer({
    audience: d.audience,
    clients: [...d.clients, expiringClient],
    users: d.users,
    publicClients: devPublicClients(file),
  });
  const config = buildConfig(file, issuer.issuer);
  const archiveDir = await mkdtemp(join(tmpdir(), 'embedgate-demo-'));
  const say = (s: string) => process.stdout.write(`${s}\n`);
  // The reviewers' notice (an SNS message in AWS), short: who asks, why, and where to decide.
  let gatewayUrl = '';
  const notifyApproval = (input: ApprovalExecutionInput) =>
    say(
      `     -> reviewers notified (SNS in AWS): ${input.notification.subject}\n        decide: ${gatewayUrl}/v1/approvals/${input.approvalId}/decision`,
    );
  const gateway = await startDevServer({ config, archiveDir, port: 0, notifyApproval });
  gatewayUrl = gateway.url;
  let failures = 0;
  let requests = 0;
  const expect = (what: string, ok: boolean, detail: string) => {
    say(`  ${ok ? 'ok  ' : 'FAIL'} ${what}: ${detail}`);
    if (!ok) failures++;
  };
  const client = (token: string) => new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: token, maxRetries: 0 });
  const statusOf = async (p: Promise<unknown>): Promise<number> => {
    requests++;
    try {
      await p;
      return 200;
    } catch (e) {
      if (e instanceof OpenAI.APIError && typeof e.status === 'number') return e.status;
      throw e;
    }
  };

  try {
    say(`embedgate demo\n  issuer  ${issuer.issuer}\n  gateway ${gateway.url}/v1\n  archive ${archiveDir}\n  policy  ${config.version}\n`);
    const secretOf = (id: string) => d.clients.find((c) => c.clientId === id)!;
    const indexerToken = await fetchClientCredentialsToken(issuer.tokenEndpoint, secretOf('batch-indexer'));
    const botToken = await fetchClientCredentialsToken(issuer.tokenEndpoint, secretOf('support-bot'));
    say('1. batch-indexer (group search-team) embeds three documents with local-large');
    const docs = [
      'Invoices are archived for seven years.',
      'Invoices are kept for seven years in the archive.',
      'The cafeteria opens at noon.',
    ];
    requests++;
    const res = await client(indexerToken).embeddings.create({ model: 'local-large', input: docs });
    const [a, b, c] = res.data.map((x) => x.embedding);
    const cos = (x: number[], y: number[]) => x.reduce((s, v, i) => s + v * y[i]!, 0);
    expect('embeddings', res.data.length === 3 && a!.length === 1024, `${res.data.length} vectors of ${a!.length} dimensions`);
    expect(
      'similar texts are close',
      cos(a!, b!) > cos(a!, c!),
      `cos(doc1, doc2)=${cos(a!, b!).toFixed(3)} > cos(doc1, doc3)=${cos(a!, c!).toFixed(3)}`,
    );

    say('2. support-bot (group support) may use local-small only');
    expect(
      'local-small',
      (await statusOf(client(botToken).embeddings.create({ model: 'local-small', input: 'Where is my order?' }))) === 200,
      '200',
    );
    const denied = await statusOf(client(botToken).embeddings.create({ model: 'local-large', input: 'Where is my order?' }));
    expect('local-large is denied', denied === 403, String(denied));

    say('3. an invalid request (empty input)');
    const invalid = await statusOf(client(botToken).embeddings.create({ model: 'local-small', input: [] }));
    expect('rejected', invalid === 400, String(invalid));

    say('4. an expired token (a 1-second token, presented 2 seconds later)');
    const expiring = await fetchClientCredentialsToken(issuer.tokenEndpoint, expiringClient);
    await new Promise((r) => setTimeout(r, 2100));
    const expired = await statusOf(client(expiring).embeddings.create({ model: 'local-small', input: 'late' }));
    expect('expired token refused', expired === 401, String(expired));

    say("5. a forged token (right issuer, audience and key id; an attacker's key)");
    const { privateKey } = await generateKeyPair('RS256');
    const forged = await new SignJWT({ client_id: 'batch-indexer', groups: ['search-team'], scope: 'embeddings' })
      .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: decodeProtectedHeader(indexerToken).kid! })
      .setIssuer(issuer.issuer)
      .setSubject('batch-indexer')
      .setAudience(d.audience)
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(privateKey);
    const forgedStatus = await statusOf(client(forged).embeddings.create({ model: 'local-large', input: 'exfiltrate' }));
    expect('forged token refused', forgedStatus === 401, String(forgedStatus));

    say('6. sensitive data is masked before it leaves: e-mail redacted, card pseudonymized; an SSN is blocked');
    requests++;
    const maskedRes = await client(indexerToken).embeddings.create({
      model: 'local-small',
      input: ['Refund jane.doe@example.com on card 4111 1111 1111 1111'],
    });
    expect('masked request embedded', maskedRes.data.length === 1, '200');
    const ssn = await statusOf(client(indexerToken).embeddings.create({ model: 'local-small', input: ['SSN 123-45-6789'] }));
    expect('SSN blocked', ssn === 422, `${ssn} sensitive_data_blocked`);

    say('7. an operator revokes support-bot at runtime (embedgate revoke), then lifts it');
    await revoke(
      ['--subject', 'support-bot', '--reason', 'demo: suspected key leak', '--archive-dir', archiveDir, '--by', 'demo-operator'],
      (line) => say(`     $ ${line}`),
    );
    // The dev runtime re-reads its deny list within a second (in AWS: the table, within 15 s).
    const reload = () => new Promise((r) => setTimeout(r, 1100));
    await reload();
    const revokedStatus = await statusOf(client(botToken).embeddings.create({ model: 'local-small', input: 'still there?' }));
    expect('revoked without a restart', revokedStatus === 403, `${revokedStatus} principal_revoked`);
    await unrevoke(['--subject', 'support-bot', '--archive-dir', archiveDir], (line) => say(`     $ ${line}`));
    await reload();
    const liftedStatus = await statusOf(client(botToken).embeddings.create({ model: 'local-small', input: 'back again' }));
    expect('lifted', liftedStatus === 200, String(liftedStatus));

    say('8. export-controlled text to regulated-small: held (202), approved by a reviewer, used once');
    const aliceToken = await fetchClientCredentialsToken(issuer.tokenEndpoint, secretOf('reviewer-alice'));
    const heldInput = { model: 'regulated-small', input: ['ITAR technical data: torque limits of the actuator'] };
    requests++;
    const held = await client(indexerToken).embeddings.create(heldInput).withResponse();
    const ticket = held.data as unknown as { approval_id?: string; status?: string; poll_url?: string };
    expect(
      'held for approval',
      held.response.status === 202 && ticket.status === 'pending',
      `${held.response.status} ${JSON.stringify({ approval_id: ticket.approval_id, status: ticket.status })}`,
    );
    const approvalId = ticket.approval_id ?? '';
    if (config.reviewerPage) say(`     reviewers can also decide at ${gateway.url}/review#approval=${approvalId}`);
    /** Runs `embedgate approvals` in process; `show` turns its output into the lines printed (100 columns). */
    const cli = async (token: string, args: string[], show = (lines: string[]) => lines.map((l) => `     ${l}`)): Promise<string> => {
      requests++;
      const lines: string[] = [];
      try {
        await approvals([...args, '--url', gateway.url], { out: (l) => lines.push(l), env: { [CLI_ENV.token]: token } });
      } catch (e) {
        lines.push((e as Error).message);
      }
      for (const l of show(lines)) say(l);
      return lines.join('\n');
    };
    say(`     $ APPROVAL_ID=${approvalId}`);
    say(`     $ ${CLI_ENV.token}=<batch-indexer> embedgate approvals approve $APPROVAL_ID --reason "looks fine to me"`);
    const self = await cli(indexerToken, ['approve', approvalId, '--reason', 'looks fine to me']);
    expect('the requester cannot approve', self.includes('self_approval'), '403 self_approval');
    say(`     $ ${CLI_ENV.token}=<reviewer-alice> embedgate approvals list --status pending --format json`);
    const listed = await cli(aliceToken, ['list', '--status', 'pending', '--format', 'json'], (lines) => {
      const list = JSON.parse(lines.join('\n')) as Record<string, unknown>[];
      return list.map(
        (a) =>
          `     ${String(a.id).slice(0, 8)}…  ${String(a.status)}  ${String(a.model)}  by ${(a.requester as { subject?: string }).subject ?? '-'}  ` +
          `rule ${String(a.rule_id)}  ${String(a.approvals)}/${String(a.required_approvals)}  ${(a.triggers as string[]).join(',')}`,
      );
    });
    expect('the reviewer sees it', listed.includes(approvalId), 'listed');
    say(`     $ ${CLI_ENV.token}=<reviewer-alice> embedgate approvals approve $APPROVAL_ID \\`);
    say('         --reason "public datasheet values, cleared by export control"');
    const approved = await cli(aliceToken, ['approve', approvalId, '--reason', 'public datasheet values, cleared by export control']);
    expect('approved by a reviewer', approved.includes('is now approved'), 'approved');
    requests++;
    const resend = await client(indexerToken).embeddings.create(heldInput, { headers: { 'x-embedgate-approval-id': approvalId } });
    expect('the same request, re-sent with its approval id, is forwarded', resend.data.length === 1, '200');
    const replay = await statusOf(
      client(indexerToken).embeddings.create(heldInput, { headers: { 'x-embedgate-approval-id': approvalId } }),
    );
    expect('a replay is refused', replay === 403, `${replay} approval_used`);

    say('9. policy as code: the example test cases (embedgate policy test), and why support-bot may not use local-large (policy explain)');
    const testOut: string[] = [];
    const tested = await policy(['test', resolve(__dirname, '../../examples/policy-tests'), '--config', CONFIG], (l) => testOut.push(l));
    expect('the policy passes its tests', tested === 0, testOut.at(-1)!);
    const explainDir = await mkdtemp(join(tmpdir(), 'embedgate-demo-explain-'));
    await writeFile(join(explainDir, 'claims.json'), JSON.stringify({ sub: 'support-bot', groups: ['support'], scope: 'embeddings' }));
    await writeFile(join(explainDir, 'request.json'), JSON.stringify({ model: 'local-large', input: 'Where is my order?' }));
    const explained: string[] = [];
    await policy(
      ['explain', '--config', CONFIG, '--claims', join(explainDir, 'claims.json'), '--request', join(explainDir, 'request.json')],
      (l) => explained.push(l),
    );
    for (const l of explained.filter((l) => /^(answer|policy| {2})/.test(l))) say(`     ${l}`);
    expect('explain agrees with the gateway', explained[0] === 'answer: 403 deny (no_matching_rule), rule -', explained[0]!);

    say('10. support-bot (5 requests per minute under its rule) sends 8 at once: the ones over its limit get 429 with Retry-After');
    const burst = await Promise.all(
      Array.from({ length: 8 }, async (_, i) => {
        requests++;
        try {
          await client(botToken).embeddings.create({ model: 'local-small', input: `ticket ${i}` });
          return { status: 200, code: null, retryAfter: null };
        } catch (e) {
          if (!(e instanceof OpenAI.APIError)) throw e;
          return { status: e.status, code: e.code ?? null, retryAfter: e.headers?.get?.('retry-after') ?? null };
        }
      }),
    );
    const passed = burst.filter((r) => r.status === 200).length;
    const throttled = burst.filter((r) => r.status === 429 && r.code === 'rate_limit_exceeded' && Number(r.retryAfter) >= 1);
    expect(
      'throttled over the limit, exactly',
      passed >= 3 && passed <= 5 && passed + throttled.length === 8,
      `${passed} passed, ${throttled.length} got 429 rate_limit_exceeded (Retry-After ${throttled[0]?.retryAfter ?? '-'} s)`,
    );
    await gateway.flushArchive(); // the journal's records into the archive's batch objects, which the usage query reads
    say('     $ embedgate usage --by principal');
    const report: string[] = [];
    await usage(['--by', 'principal', '--archive-dir', archiveDir], {
      out: (t) => report.push(t),
      err: (t) => report.push(t),
      now: () => Date.now(),
    });
    for (const line of report.join('\n').split('\n')) say(`     ${line}`);
    expect(
      'the usage report counts the throttled requests',
      /support-bot\s+\d+\s+\d+\s+[3-5]\s/.test(report.join('\n')),
      'support-bot throttled',
    );

    const records = await readLocalArchive(archiveDir);
    say(`\nAudit: ${records.length} session records in ${archiveDir}\n`);
    say(formatAuditTable(records));
    const maskedRecord = records.find((r) => r.masking?.counts.some((c) => c.type === 'CREDIT_CARD'));
    if (maskedRecord) {
      say(
        `\nMasking findings of the masked request (types, counts, offsets; never the values):\n${maskedRecord.masking!.findings.map((f) => `  item ${f.item}: ${f.type} x${f.count} by ${f.detector} -> ${f.strategy} at ${JSON.stringify(f.offsets)}`).join('\n')}`,
      );
    }
    const chain = records.filter((r) => r.approval?.id === approvalId);
    say(
      `\nThe approval chain of ${approvalId} (embedgate audit query approval-chain):\n${chain.map((r) => `  ${r.started_at}  ${r.approval!.step.padEnd(9)} ${r.approval!.status.padEnd(8)} ${r.principal?.subject ?? '-'}  ${r.decision.status} ${r.decision.reason}`).join('\n')}`,
    );
    expect(
      'the approval chain is recorded',
      chain.map((r) => r.approval!.step).join(',') === 'requested,refused,decided,used,refused',
      chain.map((r) => r.approval!.step).join(' -> '),
    );
    say('');
    expect('masking findings recorded', maskedRecord !== undefined, 'found');
    expect('one record per request', records.length === requests, `${records.length} records for ${requests} requests`);
    const raw = JSON.stringify(records);
    expect('no token in any record', ![indexerToken, botToken, expiring, forged].some((t) => raw.includes(t)), 'checked');
    expect(
      'no masked value in any record',
      !['jane.doe@example.com', '4111 1111 1111 1111', '123-45-6789'].some((v) => raw.includes(v)),
      'checked',
    );
  } finally {
    await gateway.close();
    await issuer.close();
  }
  say(failures === 0 ? '\ndemo passed' : `\ndemo FAILED: ${failures} step(s)`);
  return failures === 0 ? 0 : 1;
}

demo().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`demo failed: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
