/** lazyLimits: the limits chunk loads at init; admissions wait for it; a chunk that cannot load fails as the store would (closed: 503, open: uncounted). */
import { lazyLimits } from '../../../lambda/adapters/aws/lazy';
import type { LimitsRequest } from '../../../lambda/core/limits/admission';

const REQ: LimitsRequest = {
  principal: { issuer: 'https://idp.example.com', subject: 's', clientId: null },
  ruleId: 'r',
  model: 'm',
  items: 1,
  estimatedTokens: 1,
  sessionId: 'x',
};

describe('lazyLimits', () => {
  it('starts loading at once and forwards admissions to the loaded stage', async () => {
    const admission = { settle: jest.fn(async () => undefined) };
    const load = jest.fn(async () => ({ admit: jest.fn(async () => admission) }));
    const limits = lazyLimits(load, false, jest.fn());
    expect(load).toHaveBeenCalledTimes(1);
    await expect(limits.admit(REQ)).resolves.toBe(admission);
    await expect(limits.admit(REQ)).resolves.toBe(admission);
    expect(load).toHaveBeenCalledTimes(1);
  });

  it('fail closed: a chunk that cannot load refuses with 503 rate_limits_unavailable, told to onLoadError', async () => {
    const onLoadError = jest.fn();
    const limits = lazyLimits(async () => Promise.reject(new Error('chunk missing')), false, onLoadError);
    await expect(limits.admit(REQ)).rejects.toMatchObject({
      status: 503,
      code: 'rate_limits_unavailable',
      headers: { 'retry-after': '1' },
    });
    expect(onLoadError).toHaveBeenCalledWith(expect.objectContaining({ message: 'chunk missing' }));
  });

  it('fail open: a chunk that cannot load admits uncounted (null)', async () => {
    const limits = lazyLimits(async () => Promise.reject(new Error('chunk missing')), true, jest.fn());
    await expect(limits.admit(REQ)).resolves.toBeNull();
  });
});
