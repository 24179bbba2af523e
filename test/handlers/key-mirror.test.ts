/**
 * The key mirror's refresh on request (a proxy's unknown kid, delivered by the table's stream):
 * which issuers a batch of stream records names, the attacks on it (unconfigured issuers, URLs
 * smuggled into the key, look-alike issuers, a flood), and the per-instance rate limit.
 */
import {
  isRefreshStreamEvent,
  mirroredIssuers,
  mirrorIssuerKeys,
  refreshGate,
  requestedIssuers,
  type RefreshStreamEvent,
} from '../../lambda/handlers/key-mirror';
import { ISSUER_KEYS_TABLE, refreshRequestKey } from '../../shared/issuer-keys-table';

const A = { issuer: 'https://idp.example.com/oauth2/default' };
const B = { issuer: 'https://login.example.org', jwksUri: 'https://login.example.org/keys' };
const IN_VPC = { issuer: 'https://keycloak.internal.example', keysInVpc: true };

const stream = (...keys: string[]): RefreshStreamEvent => ({
  Records: keys.map((k) => ({ eventName: 'INSERT', dynamodb: { Keys: { url: { S: k } } } })),
});

describe('requestedIssuers', () => {
  it('names each configured issuer once, in configuration order', () => {
    const r = requestedIssuers(stream(refreshRequestKey(B.issuer), refreshRequestKey(A.issuer), refreshRequestKey(B.issuer)), [A, B]);
    expect(r.issuers).toEqual([A, B]);
    expect(r.ignored).toEqual([]);
  });

  it('ignores requests for issuers that are not configured: an attacker cannot make the mirror fetch a URL of its choice', () => {
    const r = requestedIssuers(
      stream(
        refreshRequestKey('https://attacker.example'),
        refreshRequestKey('http://169.254.169.254/latest/meta-data/'),
        // Look-alikes of a configured issuer: exact match only.
        refreshRequestKey(`${A.issuer}/`),
        refreshRequestKey('https://idp.example.com/oauth2/default.evil.example'),
        refreshRequestKey(A.issuer.toUpperCase()),
      ),
      [A, B],
    );
    expect(r.issuers).toEqual([]);
    expect(r.ignored).toHaveLength(5);
  });

  it('ignores records that are not refresh requests (a mirrored document, a TTL removal, a missing key)', () => {
    const event: RefreshStreamEvent = {
      Records: [
        { eventName: 'MODIFY', dynamodb: { Keys: { url: { S: `${A.issuer}/.well-known/openid-configuration` } } } },
        { eventName: 'REMOVE', dynamodb: { Keys: { url: { S: refreshRequestKey(A.issuer) } } } },
        { eventName: 'INSERT', dynamodb: {} },
        { eventName: 'INSERT' },
      ],
    };
    const r = requestedIssuers(event, [A]);
    expect(r.issuers).toEqual([]);
    expect(r.ignored).toHaveLength(3);
  });

  it('an issuer whose keys are served inside the VPC is not the mirror’s: its requests are ignored', () => {
    expect(mirroredIssuers([A, IN_VPC, B])).toEqual([A, B]);
    expect(requestedIssuers(stream(refreshRequestKey(IN_VPC.issuer)), mirroredIssuers([A, IN_VPC])).issuers).toEqual([]);
  });

  it('tells stream events from the schedule’s', () => {
    expect(isRefreshStreamEvent(stream())).toBe(true);
    expect(isRefreshStreamEvent({ source: 'aws.events', 'detail-type': 'Scheduled Event', detail: {} })).toBe(false);
    expect(isRefreshStreamEvent({})).toBe(false);
    expect(isRefreshStreamEvent(null)).toBe(false);
  });
});

describe('refreshGate', () => {
  it('fetches an issuer on request at most once per interval (per mirror instance), each issuer on its own', () => {
    const gate = refreshGate();
    const t = 1_000_000;
    expect(gate([A, B], t)).toEqual({ due: [A, B], skipped: [] });
    expect(gate([A], t + ISSUER_KEYS_TABLE.mirrorRefreshIntervalMs - 1)).toEqual({ due: [], skipped: [A.issuer] });
    expect(gate([A], t + ISSUER_KEYS_TABLE.mirrorRefreshIntervalMs)).toEqual({ due: [A], skipped: [] });
  });

  it('a flood of requests (even ones the proxy’s condition should have stopped) makes one fetch per interval', async () => {
    const gate = refreshGate(10_000);
    const fetched: string[] = [];
    const fetch = async (url: string) => {
      fetched.push(url);
      return url.endsWith('openid-configuration')
        ? Response.json({ issuer: A.issuer, jwks_uri: `${A.issuer}/v1/keys` })
        : Response.json({ keys: [{ kty: 'RSA', kid: 'k1', n: 'AQAB', e: 'AQAB' }] });
    };
    let now = 5_000_000;
    for (let i = 0; i < 50; i++) {
      const { due } = gate(
        requestedIssuers(stream(refreshRequestKey(A.issuer), refreshRequestKey('https://x.example')), [A, B]).issuers,
        now,
      );
      await mirrorIssuerKeys({ issuers: due, fetch, put: async () => undefined, now: () => now });
      now += 100;
    }
    // 50 batches over 5 s: one discovery and one JWKS fetch, of the configured issuer's URLs only.
    expect(fetched).toEqual([`${A.issuer}/.well-known/openid-configuration`, `${A.issuer}/v1/keys`]);
  });
});
