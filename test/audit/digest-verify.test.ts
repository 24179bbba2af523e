/**
 * Digests and verification over a local archive: the builder writes a signed, chained digest per
 * settled period; `verify` passes an intact archive and reports a modified, a removed, an inserted
 * and a moved record, a removed or replaced digest (broken chain), an altered digest (bad
 * signature), a key it does not trust; late records go into the next digest.
 */
import { generateKeyPairSync, createHash } from 'node:crypto';
import { chmod, cp, readFile, rename, rm, unlink, utimes, writeFile, mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { audit, type AuditIo } from '../../cli/audit';
import { digestKey, parseDigest, serializeDigest, signingPayload, type DigestDocument } from '../../lambda/core/audit/digest';
import { runDigest, runDigestsUntilCurrent } from '../../lambda/core/audit/digest-builder';
import { ObjectExistsError } from '../../lambda/core/audit/ports';
import { verifyArchive, type VerifyReport } from '../../lambda/core/audit/verify';
import { recordKey, sealRecord, type SessionRecord } from '../../lambda/core/record';
import { DirectoryObjects } from '../../lambda/adapters/local/archive-objects';
import { defaultSigningKeyPath, LocalKeySigner, publicKeyPathOf } from '../../lambda/adapters/local/digest-key';
import { tempDir, writeSessions } from './archive-fixture';

const HOUR = 3_600_000;
const at = (iso: string) => Date.parse(iso);
const dirs: string[] = [];
afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

async function fresh(name: string): Promise<string> {
  const d = await tempDir(name);
  dirs.push(d);
  return d;
}

/** Set each record file's mtime to its start + 1 s, as if written live. */
async function backdate(dir: string, records: readonly SessionRecord[]): Promise<void> {
  for (const r of records) {
    const t = new Date(Date.parse(r.started_at) + 1000);
    await utimes(join(dir, recordKey(r)), t, t);
  }
}

async function digestAt(dir: string, iso: string, opts: { maxPeriodMs?: number } = {}) {
  const signer = await LocalKeySigner.open(defaultSigningKeyPath(dir));
  return runDigest({
    store: new DirectoryObjects(dir),
    signer,
    clock: { now: () => at(iso) },
    settleMs: 15 * 60_000,
    lookbackMs: 6 * HOUR,
    ...opts,
  });
}

async function verifyDir(dir: string, opts: { from?: string; to?: string; keyFile?: string } = {}): Promise<VerifyReport> {
  const signer = await LocalKeySigner.open(opts.keyFile ?? defaultSigningKeyPath(dir));
  return verifyArchive({
    store: new DirectoryObjects(dir),
    publicKeys: [signer.publicKey],
    ...(opts.from ? { from: at(opts.from) } : {}),
    ...(opts.to ? { to: at(opts.to) } : {}),
  });
}

const kinds = (r: VerifyReport) => r.problems.map((p) => `${p.kind} ${p.key}`);

let base: string;
let records: SessionRecord[];
const D05 = 'digests/dt=2026-03-01/hr=05.json';
const D06 = 'digests/dt=2026-03-01/hr=06.json';
const D07 = 'digests/dt=2026-03-01/hr=07.json';

beforeAll(async () => {
  base = await fresh('audit-base');
  records = await writeSessions(base);
  await backdate(base, records);
  // Hourly runs at :30, as the schedule would: 05, 06, 07 are digested one by one.
  for (const t of ['2026-03-01T06:30:00.000Z', '2026-03-01T07:30:00.000Z', '2026-03-01T08:30:00.000Z']) {
    const r = await digestAt(base, t);
    expect(r.written).toBe(true);
  }
});

/** A copy of the base archive to tamper with (files are read-only: made writable in the copy). */
async function copyOfBase(name: string): Promise<string> {
  const d = await fresh(name);
  await cp(base, d, { recursive: true, preserveTimestamps: true });
  for (const f of await readdir(d, { recursive: true })) await chmod(join(d, f), 0o755);
  return d;
}

const keyOf = (i: number) => recordKey(records[i]!);

describe('the digest builder', () => {
  it('wrote one digest per settled hour, chained, each listing the records of its hour', async () => {
    const store = new DirectoryObjects(base);
    const docs = await Promise.all(
      [D05, D06, D07].map(async (k) => ({ k, bytes: (await store.get(k))!, doc: parseDigest((await store.get(k))!) })),
    );
    expect(docs.map((d) => [d.doc.period.start, d.doc.period.end])).toEqual([
      ['2026-03-01T05:00:00.000Z', '2026-03-01T06:00:00.000Z'],
      ['2026-03-01T06:00:00.000Z', '2026-03-01T07:00:00.000Z'],
      ['2026-03-01T07:00:00.000Z', '2026-03-01T08:00:00.000Z'],
    ]);
    expect(docs[0]!.doc.previous).toBeNull();
    expect(docs[1]!.doc.previous).toEqual({
      key: D05,
      sha256: `sha256:${createHash('sha256').update(docs[0]!.bytes).digest('hex')}`,
      period_end: '2026-03-01T06:00:00.000Z',
    });
    expect(docs[2]!.doc.previous!.key).toBe(D06);
    expect(docs.map((d) => d.doc.counts)).toEqual([
      { records: 3, late: 0, bytes: expect.any(Number) },
      { records: 3, late: 0, bytes: expect.any(Number) },
      { records: 3, late: 0, bytes: expect.any(Number) },
    ]);
    const first = records[0]!;
    const bytes = await readFile(join(base, recordKey(first)));
    expect(docs[0]!.doc.records[0]).toEqual({
      key: recordKey(first),
      size: bytes.length,
      object_sha256: `sha256:${createHash('sha256').update(bytes).digest('hex')}`,
      record_sha256: first.record_sha256,
    });
    expect(docs[0]!.doc.signing).toMatchObject({ algorithm: 'ECDSA_SHA_256', key_id: `file:${defaultSigningKeyPath(base)}` });
  });

  it('writes nothing when no further hour has settled, and never replaces a digest', async () => {
    const d = await copyOfBase('audit-again');
    const again = await digestAt(d, '2026-03-01T08:59:00.000Z');
    expect(again).toMatchObject({ written: false, coveredUntil: '2026-03-01T08:00:00.000Z' });
    await expect(new DirectoryObjects(d).create(D07, Buffer.from('{}'), 'application/json')).rejects.toBeInstanceOf(ObjectExistsError);
  });

  it('starts at the hour of the first record, and catches up at most maxPeriod per run', async () => {
    const d = await fresh('audit-catchup');
    const recs = await writeSessions(d);
    await backdate(d, recs);
    const first = await digestAt(d, '2026-03-02T00:00:00.000Z', { maxPeriodMs: 2 * HOUR });
    expect(first.written && first.doc.period).toEqual({ start: '2026-03-01T05:00:00.000Z', end: '2026-03-01T07:00:00.000Z' });
    const signer = await LocalKeySigner.open(defaultSigningKeyPath(d));
    const rest = await runDigestsUntilCurrent({
      store: new DirectoryObjects(d),
      signer,
      clock: { now: () => at('2026-03-02T00:00:00.000Z') },
      settleMs: 0,
      lookbackMs: 0,
      maxPeriodMs: 12 * HOUR,
    });
    expect(rest.filter((r) => r.written).map((r) => r.written && r.doc.period.end)).toEqual([
      '2026-03-01T19:00:00.000Z',
      '2026-03-02T00:00:00.000Z',
    ]);
    expect((await verifyDir(d)).ok).toBe(true);
  });

  it('says so when the archive has no records', async () => {
    const d = await fresh('audit-none');
    expect(await digestAt(d, '2026-03-01T08:30:00.000Z')).toEqual({
      written: false,
      reason: 'the archive has no records yet',
      coveredUntil: null,
    });
  });
});

describe('verify: an intact archive', () => {
  it('passes: every record listed with its bytes, the chain and signatures intact', async () => {
    const r = await verifyDir(base);
    expect(r.problems).toEqual([]);
    expect(r).toMatchObject({
      ok: true,
      digests: { checked: 3, coveredFrom: '2026-03-01T05:00:00.000Z', coveredUntil: '2026-03-01T08:00:00.000Z' },
      records: { checked: 9, digested: 9, undigested: 0 },
    });
  });

  it('reports records newer than the last digest as not digested yet, without failing', async () => {
    const d = await copyOfBase('audit-newer');
    await writeSessions(d, [{ at: '2026-03-01T08:10:00.000Z', token: 'tok.indexer', body: { model: 'small', input: 'x' } }]);
    const r = await verifyDir(d);
    expect(r.ok).toBe(true);
    expect(r.records.undigested).toBe(1);
    expect(r.warnings.map((w) => w.message)).toEqual(['not digested yet: newer than the last digest']);
  });

  it('puts a record that arrives after its hour was digested into the next digest, as late', async () => {
    const d = await copyOfBase('audit-late');
    const [late] = await writeSessions(d, [{ at: '2026-03-01T06:50:00.000Z', token: 'tok.bot', body: { model: 'small', input: 'late' } }]);
    const written = new Date(at('2026-03-01T08:40:00.000Z'));
    await utimes(join(d, recordKey(late!)), written, written);
    expect((await verifyDir(d)).problems.map((p) => p.kind)).toEqual(['inserted_record']);
    const next = await digestAt(d, '2026-03-01T09:30:00.000Z');
    expect(next.written && next.doc.late.map((e) => [e.key, e.last_modified])).toEqual([[recordKey(late!), '2026-03-01T08:40:00.000Z']]);
    const r = await verifyDir(d);
    expect(r.problems).toEqual([]);
    expect(r.records).toEqual({ checked: 10, digested: 10, undigested: 0, records: 10 });
  });
});

describe('verify: tampered records', () => {
  it('reports a modified record (changed bytes)', async () => {
    const d = await copyOfBase('audit-modified');
    const path = join(d, keyOf(3));
    await writeFile(path, (await readFile(path, 'utf8')).replace('"status":200', '"status":403'));
    const r = await verifyDir(d);
    expect(r.ok).toBe(false);
    expect(kinds(r)).toEqual([`changed_record ${keyOf(3)}`]);
    expect(r.problems[0]!.message).toMatch(/its bytes hash to sha256:[0-9a-f]{64}, digests\/dt=2026-03-01\/hr=06\.json recorded/);
  });

  it('reports a modified record even when its seal was recomputed to match', async () => {
    const d = await copyOfBase('audit-resealed');
    const forged = sealRecord({ ...records[0]!, decision: { ...records[0]!.decision, reason: 'rule_deny' } });
    await writeFile(join(d, keyOf(0)), `${JSON.stringify(forged)}\n`);
    expect(kinds(await verifyDir(d))).toEqual([`changed_record ${keyOf(0)}`]);
  });

  it('reports a record whose content no longer matches its own seal, digested or not', async () => {
    const d = await copyOfBase('audit-seal');
    const [extra] = await writeSessions(d, [
      { at: '2026-03-01T08:10:00.000Z', token: 'tok.indexer', body: { model: 'small', input: 'x' } },
    ]);
    const path = join(d, recordKey(extra!));
    await chmod(path, 0o644);
    await writeFile(path, (await readFile(path, 'utf8')).replace('"items":1', '"items":9'));
    const r = await verifyDir(d);
    expect(kinds(r)).toEqual([`changed_record ${recordKey(extra!)}`]);
    expect(r.problems[0]!.message).toMatch(/not to its record_sha256/);
  });

  it('reports a removed record', async () => {
    const d = await copyOfBase('audit-removed');
    await unlink(join(d, keyOf(1)));
    const r = await verifyDir(d);
    expect(kinds(r)).toEqual([`missing_record ${keyOf(1)}`]);
    expect(r.problems[0]!.message).toBe('listed in digests/dt=2026-03-01/hr=05.json, but absent from the archive');
  });

  it('reports an inserted record in a digested hour, even a well-formed sealed one', async () => {
    const d = await copyOfBase('audit-inserted');
    const forged = sealRecord({ ...records[4]!, session_id: 'session-forged', principal: null });
    await writeFile(join(d, recordKey(forged)), `${JSON.stringify(forged)}\n`);
    const r = await verifyDir(d);
    expect(kinds(r)).toEqual([`inserted_record ${recordKey(forged)}`]);
    expect(r.problems[0]!.message).toMatch(/in no digest/);
  });

  it('reports an inserted record before the first digest', async () => {
    const d = await copyOfBase('audit-before');
    const forged = sealRecord({ ...records[0]!, session_id: 'session-early', started_at: '2026-03-01T03:00:00.000Z' });
    await mkdir(join(d, 'sessions/dt=2026-03-01/hr=03'), { recursive: true });
    await writeFile(join(d, recordKey(forged)), `${JSON.stringify(forged)}\n`);
    const r = await verifyDir(d);
    expect(kinds(r)).toEqual([`inserted_record ${recordKey(forged)}`]);
    expect(r.problems[0]!.message).toMatch(/before the first digest/);
  });

  it('reports a record moved to another hour: missing where it was, inserted and misplaced where it is', async () => {
    const d = await copyOfBase('audit-moved');
    const moved = keyOf(0).replace('hr=05', 'hr=06');
    await rename(join(d, keyOf(0)), join(d, moved));
    expect(kinds(await verifyDir(d))).toEqual([`missing_record ${keyOf(0)}`, `inserted_record ${moved}`, `misplaced_record ${moved}`]);
  });
});

describe('verify: tampered digests', () => {
  it('reports a removed digest as a broken chain (and its records as in no digest)', async () => {
    const d = await copyOfBase('audit-nodigest');
    await unlink(join(d, D06));
    const r = await verifyDir(d);
    expect(kinds(r)).toEqual([`broken_chain ${D07}`, ...[3, 4, 5].map((i) => `inserted_record ${keyOf(i)}`).sort()]);
    expect(r.problems.find((p) => p.kind === 'broken_chain')!.message).toBe(`links to ${D06}, but the digest before it is ${D05}`);
  });

  it('reports a digest replaced by a re-signed one (even with the right key) as a broken chain', async () => {
    const d = await copyOfBase('audit-resigned');
    const doc = parseDigest(await readFile(join(d, D06)));
    const signer = await LocalKeySigner.open(defaultSigningKeyPath(d));
    const { signature: _s, ...body } = { ...doc, records: doc.records.slice(1), counts: { ...doc.counts, records: 2 } };
    const resigned: DigestDocument = { ...body, signature: Buffer.from(await signer.sign(signingPayload(body))).toString('base64') };
    await writeFile(join(d, D06), serializeDigest(resigned));
    const r = await verifyDir(d);
    expect(kinds(r)).toEqual([`broken_chain ${D07}`, `inserted_record ${doc.records[0]!.key}`].sort());
    expect(r.problems.find((p) => p.kind === 'broken_chain')!.message).toMatch(/was altered or replaced/);
  });

  it('reports a digest altered without its key as a bad signature', async () => {
    const d = await copyOfBase('audit-badsig');
    const doc = parseDigest(await readFile(join(d, D07)));
    await writeFile(join(d, D07), serializeDigest({ ...doc, records: doc.records.slice(0, 2), counts: { ...doc.counts, records: 2 } }));
    const r = await verifyDir(d);
    expect(kinds(r)).toEqual([`bad_signature ${D07}`, `inserted_record ${doc.records[2]!.key}`].sort());
  });

  it('reports digests signed by a key it does not trust', async () => {
    const other = await fresh('audit-otherkey');
    const r = await verifyDir(base, { keyFile: join(other, 'k.pem') });
    expect(kinds(r)).toEqual([`bad_signature ${D05}`, `bad_signature ${D06}`, `bad_signature ${D07}`]);
    expect(r.problems[0]!.message).toMatch(/not among the trusted public keys/);
  });

  it('reports an object under digests/ that is not a digest, and a malformed digest', async () => {
    const d = await copyOfBase('audit-stray');
    await writeFile(join(d, 'digests', 'notes.txt'), 'hello');
    await writeFile(join(d, D07), '{"schema":"embedgate.digest.v1"}\n');
    const r = await verifyDir(d);
    expect(
      r.problems
        .filter((p) => p.kind === 'bad_digest')
        .map((p) => p.key)
        .sort(),
    ).toEqual([D07, 'digests/notes.txt']);
    expect(r.problems.find((p) => p.key === D07)!.message).toMatch(/^malformed: period must be/);
  });
});

describe('verify: a window', () => {
  it('checks only the records of [from, to), and the chain link into the window', async () => {
    const d = await copyOfBase('audit-window');
    await unlink(join(d, keyOf(0))); // hour 05: outside the window
    const r = await verifyDir(d, { from: '2026-03-01T06:00:00Z', to: '2026-03-01T07:00:00Z' });
    expect(r).toMatchObject({
      ok: true,
      window: { from: '2026-03-01T06:00:00.000Z', to: '2026-03-01T07:00:00.000Z' },
      records: { checked: 3, digested: 3 },
    });
    // The link from the first digest checked (06) to the one before (05) is still checked.
    await writeFile(join(d, D05), (await readFile(join(d, D05), 'utf8')).replace('"records":3', '"records":2'));
    expect(kinds(await verifyDir(d, { from: '2026-03-01T06:00:00Z' }))).toEqual([`broken_chain ${D06}`]);
  });
});

describe('embedgate audit digest / verify (CLI)', () => {
  function io() {
    const out: string[] = [];
    const err: string[] = [];
    const it: AuditIo = { out: (t) => out.push(t), err: (t) => err.push(t), now: () => at('2026-03-01T09:05:00.000Z') };
    return { io: it, out, err };
  }

  it('creates the key on first use, digests every complete hour, and verifies (exit 0)', async () => {
    const d = await fresh('audit-cli');
    await writeSessions(d);
    const a = io();
    expect(await audit(['digest', '--archive-dir', d], a.io)).toBe(0);
    expect(a.out).toEqual([
      `wrote ${digestKey(at('2026-03-01T09:00:00.000Z'))}: 2026-03-01T05:00:00.000Z to 2026-03-01T09:00:00.000Z, 9 record(s), 0 late`,
      'done: no settled hour to digest: covered until 2026-03-01T09:00:00.000Z',
      `signed with ${defaultSigningKeyPath(d)} (public key ${publicKeyPathOf(defaultSigningKeyPath(d))})`,
    ]);
    const v = io();
    expect(await audit(['verify', '--archive-dir', d], v.io)).toBe(0);
    expect(v.out.join('\n')).toMatch(
      /digests: 1 checked, covering 2026-03-01T05:00:00.000Z to 2026-03-01T09:00:00.000Z\n.*9 in the archive, 9 listed in digests, 0 not digested yet\nOK:/,
    );
  });

  it('exits 1 and names the problem, as text and as JSON', async () => {
    const d = await copyOfBase('audit-cli-bad');
    await unlink(join(d, keyOf(2)));
    const t = io();
    expect(await audit(['verify', '--archive-dir', d], t.io)).toBe(1);
    expect(t.out.join('\n')).toMatch(
      new RegExp(`PROBLEMS \\(1\\):\\n    missing_record  ${keyOf(2).replace(/[./]/g, '\\$&')}: listed in .*\\nFAILED: 1 problem`),
    );
    const j = io();
    expect(await audit(['verify', '--archive-dir', d, '--format', 'json'], j.io)).toBe(1);
    expect(JSON.parse(j.out.join(''))).toMatchObject({ ok: false, problems: [{ kind: 'missing_record', key: keyOf(2) }] });
  });

  it('takes the public key to trust from --public-key (PEM), and refuses a file that is not one', async () => {
    const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }) as string;
    const d = await fresh('audit-cli-key');
    await writeFile(join(d, 'stranger.pem'), stranger);
    await writeFile(join(d, 'junk.pem'), 'not a key');
    const s = io();
    expect(await audit(['verify', '--archive-dir', base, '--public-key', join(d, 'stranger.pem')], s.io)).toBe(1);
    expect(s.out.join('\n')).toMatch(/bad_signature/);
    const j = io();
    expect(await audit(['verify', '--archive-dir', base, '--public-key', join(d, 'junk.pem')], j.io)).toBe(2);
    expect(j.err.join('')).toMatch(/is not a public key/);
  });

  it('refuses bad options with exit code 2', async () => {
    const a = io();
    expect(await audit(['verify', '--archive-dir', base, '--from', 'yesterday'], a.io)).toBe(2);
    expect(a.err.join('')).toMatch(/--from must be a UTC date/);
    expect(await audit(['verify', '--bucket', 'b'], a.io)).toBe(2);
    expect(a.err.join('')).toMatch(/--bucket needs --public-key/);
    expect(await audit(['nope'], a.io)).toBe(2);
  });
});
