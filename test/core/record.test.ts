/**
 * Session-record helpers: the output fingerprint (SHA-256 over little-endian float32 bytes,
 * checked against an independent computation) and the archive key layout.
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { fingerprintVectors, recordKey, recordPrincipal, toLittleEndianBytes } from '../../lambda/core/record';
import { principal } from '../support/config-fixtures';

/** Independent reference: write every component with DataView as little-endian float32, hash the lot. */
function referenceFingerprint(vectors: readonly (readonly number[])[]): string {
  const total = vectors.reduce((n, v) => n + v.length, 0);
  const view = new DataView(new ArrayBuffer(total * 4));
  let offset = 0;
  for (const v of vectors) {
    for (const x of v) {
      view.setFloat32(offset, x, true);
      offset += 4;
    }
  }
  return `sha256:${createHash('sha256').update(Buffer.from(view.buffer)).digest('hex')}`;
}

const f32 = (xs: readonly number[]) => Float32Array.from(xs);
const component = fc.float({ noNaN: true });
const vector = fc.array(component, { minLength: 1, maxLength: 16 });

describe('fingerprintVectors', () => {
  it('equals SHA-256 over the concatenated little-endian float32 bytes (known vectors)', () => {
    const vectors = [
      [1, -2.5, 0.1],
      [3.4028234663852886e38, -0, 1e-45],
    ];
    expect(fingerprintVectors(vectors.map(f32))).toBe(referenceFingerprint(vectors));
    expect(fingerprintVectors([])).toBe('sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });

  it('hashes the bytes 00 00 80 3f for the single component 1.0', () => {
    const expected = createHash('sha256')
      .update(Buffer.from([0x00, 0x00, 0x80, 0x3f]))
      .digest('hex');
    expect(fingerprintVectors([f32([1])])).toBe(`sha256:${expected}`);
  });

  it('property: equals the independent little-endian computation for any vectors', () => {
    fc.assert(
      fc.property(fc.array(vector, { maxLength: 8 }), (vectors) => {
        expect(fingerprintVectors(vectors.map(f32))).toBe(referenceFingerprint(vectors));
      }),
    );
  });

  it('hashes only the bytes of a Float32Array view, not the rest of its buffer', () => {
    const backing = Float32Array.from([9, 9, 1, 2, 3, 9]);
    const view = backing.subarray(2, 5);
    expect(view.byteOffset).toBe(8);
    expect(fingerprintVectors([view])).toBe(referenceFingerprint([[1, 2, 3]]));
  });

  it('property: changing one component changes the fingerprint', () => {
    fc.assert(
      fc.property(fc.array(vector, { minLength: 1, maxLength: 6 }), fc.nat(), fc.nat(), component, (vectors, vi, ci, value) => {
        const i = vi % vectors.length;
        const j = ci % vectors[i]!.length;
        const before = Math.fround(vectors[i]![j]!);
        fc.pre(!Object.is(before, Math.fround(value)));
        const changed = vectors.map((v) => [...v]);
        changed[i]![j] = value;
        expect(fingerprintVectors(changed.map(f32))).not.toBe(fingerprintVectors(vectors.map(f32)));
      }),
    );
  });

  it('property: swapping two different vectors changes the fingerprint', () => {
    fc.assert(
      fc.property(vector, vector, (a, b) => {
        fc.pre(Buffer.compare(Buffer.from(f32(a).buffer), Buffer.from(f32(b).buffer)) !== 0);
        expect(fingerprintVectors([f32(a), f32(b)])).not.toBe(fingerprintVectors([f32(b), f32(a)]));
      }),
    );
  });

  it('distinguishes 0 from -0 (bytes, not numeric equality)', () => {
    expect(fingerprintVectors([f32([0])])).not.toBe(fingerprintVectors([f32([-0])]));
  });

  it('has the form "sha256:" + 64 hex digits', () => {
    expect(fingerprintVectors([f32([0.5, 0.25])])).toMatch(/^sha256:[0-9a-f]{64}$/);
  });
});

describe('toLittleEndianBytes', () => {
  it('property: gives the DataView little-endian float32 bytes of the view', () => {
    fc.assert(
      fc.property(fc.array(component, { maxLength: 32 }), (xs) => {
        const expected = new DataView(new ArrayBuffer(xs.length * 4));
        xs.forEach((x, i) => expected.setFloat32(i * 4, x, true));
        expect(Buffer.from(toLittleEndianBytes(f32(xs)))).toEqual(Buffer.from(expected.buffer));
      }),
    );
  });
});

describe('recordKey', () => {
  it('is sessions/dt=YYYY-MM-DD/hr=HH/<session_id>.json', () => {
    expect(recordKey({ session_id: '01JABCDEF', started_at: '2025-03-07T09:05:01.123Z' })).toBe(
      'sessions/dt=2025-03-07/hr=09/01JABCDEF.json',
    );
    expect(recordKey({ session_id: 's', started_at: '1999-12-31T23:59:59.999Z' })).toBe('sessions/dt=1999-12-31/hr=23/s.json');
    expect(recordKey({ session_id: 's', started_at: '2000-01-01T00:00:00.000Z' })).toBe('sessions/dt=2000-01-01/hr=00/s.json');
  });

  it('property: for any instant, dt and hr are the UTC date and hour of started_at', () => {
    const instant = fc.date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59Z'), noInvalidDate: true });
    const id = fc.stringMatching(/^[0-9A-Za-z-]{1,40}$/);
    fc.assert(
      fc.property(instant, id, (d, sessionId) => {
        const key = recordKey({ session_id: sessionId, started_at: d.toISOString() });
        const pad = (n: number, w = 2) => String(n).padStart(w, '0');
        expect(key).toBe(
          `sessions/dt=${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}/hr=${pad(d.getUTCHours())}/${sessionId}.json`,
        );
        expect(key).toMatch(/^sessions\/dt=\d{4}-\d{2}-\d{2}\/hr=\d{2}\/[^/]+\.json$/);
      }),
    );
  });
});

describe('recordPrincipal', () => {
  it('maps a principal to snake_case fields with exp as ISO-8601', () => {
    const p = principal({ groups: ['ml'], scopes: ['embed'], tokenId: 'jti-1', expiresAt: 1_700_000_000 });
    expect(recordPrincipal(p)).toStrictEqual({
      issuer: p.issuer,
      issuer_id: p.issuerId,
      subject: p.subject,
      client_id: p.clientId,
      groups: ['ml'],
      scopes: ['embed'],
      token_id: 'jti-1',
      token_expires_at: '2023-11-14T22:13:20.000Z',
    });
    expect(recordPrincipal(principal()).token_expires_at).toBeNull();
  });
});
