/**
 * lazySpans: calls run in named subsegments once the tracer has loaded (closed, with the error when
 * the call fails), untraced before it has loaded or when there is no segment, and a tracer that
 * cannot load never fails a call. Plus the real Powertools Tracer outside Lambda (disabled).
 */
import { lazySpans, type SubsegmentLike, type TracerLike } from '../../lambda/handlers/tracing';
import { createTracer } from '../../lambda/adapters/aws/tracer-client';

function fakeTracer() {
  const subsegments: { name: string; closed: boolean; errors: string[] }[] = [];
  const tracer: TracerLike = {
    getSegment: () => ({
      addNewSubsegment(name: string): SubsegmentLike {
        const s = { name, closed: false, errors: [] as string[] };
        subsegments.push(s);
        return { addError: (e) => s.errors.push(e.message), close: () => (s.closed = true) };
      },
    }),
  };
  return { tracer, subsegments };
}
const tick = () => new Promise((r) => setImmediate(r));

describe('lazySpans', () => {
  it('wraps each call in a closed subsegment named for it, with the error of a failed call', async () => {
    const { tracer, subsegments } = fakeTracer();
    const { span } = lazySpans(async () => tracer, jest.fn());
    await tick();
    await expect(span('upstream', async () => 42)).resolves.toBe(42);
    await expect(span('archive-write', async () => Promise.reject(new Error('SlowDown')))).rejects.toThrow('SlowDown');
    expect(subsegments).toEqual([
      { name: 'upstream', closed: true, errors: [] },
      { name: 'archive-write', closed: true, errors: ['SlowDown'] },
    ]);
  });

  it('runs calls untraced before the tracer has loaded, and when it cannot load', async () => {
    const { tracer, subsegments } = fakeTracer();
    let resolve!: (t: TracerLike) => void;
    const { span } = lazySpans(() => new Promise<TracerLike>((r) => (resolve = r)), jest.fn());
    await expect(span('counter-store', async () => 'early')).resolves.toBe('early');
    resolve(tracer);
    await tick();
    await span('counter-store', async () => 'late');
    expect(subsegments.map((s) => s.name)).toEqual(['counter-store']);

    const onLoadError = jest.fn();
    const broken = lazySpans(async () => Promise.reject(new Error('chunk missing')), onLoadError);
    await tick();
    await expect(broken.span('comprehend', async () => 'ok')).resolves.toBe('ok');
    expect(onLoadError).toHaveBeenCalledWith(expect.objectContaining({ message: 'chunk missing' }));
  });

  it('a tracer without a segment (or one that throws) never fails the call', async () => {
    const none = lazySpans(async () => ({ getSegment: () => undefined }), jest.fn());
    const throwing = lazySpans(
      async () => ({
        getSegment: () => {
          throw new Error('no context');
        },
      }),
      jest.fn(),
    );
    await tick();
    await expect(none.span('secrets-manager', async () => 1)).resolves.toBe(1);
    await expect(throwing.span('secrets-manager', async () => 2)).resolves.toBe(2);
  });

  it('the real Powertools Tracer loads outside Lambda and spans run through it', async () => {
    const { span } = lazySpans(async () => createTracer(), jest.fn());
    await tick();
    await expect(span('upstream', async () => 'x')).resolves.toBe('x');
  });
});
