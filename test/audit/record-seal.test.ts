/**
 * The record seal: `record_sha256` is SHA-256 over the canonical JSON of the record without it;
 * the gateway seals every record it builds; the seal survives a JSON round trip and key order,
 * and changes with any field.
 */
import { createHash } from 'node:crypto';
import { rm } from 'node:fs/promises';
import fc from 'fast-check';
import { canonicalJson } from '../../shared/config';
import { recordSha256, sealRecord, type SessionRecord, type UnsealedRecord } from '../../lambda/core/record';
import { tempDir, writeSessions } from './archive-fixture';

let records: SessionRecord[];
beforeAll(async () => {
  const dir = await tempDir('audit-seal');
  records = await writeSessions(dir);
  await rm(dir, { recursive: true, force: true });
});

const unsealed = (r: SessionRecord): UnsealedRecord => {
  const { record_sha256: _s, ...rest } = r;
  return rest;
};

describe('record_sha256', () => {
  it('is sha256: over the canonical JSON of the record without the field, on every record the gateway builds', () => {
    expect(records).toHaveLength(9);
    for (const r of records) {
      const expected = `sha256:${createHash('sha256')
        .update(canonicalJson(unsealed(r)), 'utf8')
        .digest('hex')}`;
      expect(r.record_sha256).toBe(expected);
      expect(Object.keys(r).at(-1)).toBe('record_sha256');
    }
  });

  it('is the same after a JSON round trip and in any key order', () => {
    for (const r of records) {
      const back = JSON.parse(JSON.stringify(r)) as SessionRecord;
      expect(recordSha256(back)).toBe(r.record_sha256);
      const reordered = Object.fromEntries(Object.entries(unsealed(r)).reverse()) as UnsealedRecord;
      expect(sealRecord(reordered).record_sha256).toBe(r.record_sha256);
    }
  });

  it('ignores a record_sha256 already present when sealing again', () => {
    const r = records[0]!;
    expect(sealRecord({ ...r, record_sha256: 'sha256:forged' } as unknown as UnsealedRecord)).toEqual(r);
  });

  it('property: changing any string field changes the seal', () => {
    const r = records[0]!;
    fc.assert(
      fc.property(fc.constantFrom('session_id', 'started_at', 'ended_at'), fc.string(), (field, value) => {
        fc.pre(value !== (r as unknown as Record<string, string>)[field]);
        expect(recordSha256({ ...unsealed(r), [field]: value })).not.toBe(r.record_sha256);
      }),
    );
    expect(recordSha256({ ...unsealed(r), decision: { ...r.decision, status: 403 } })).not.toBe(r.record_sha256);
  });
});
