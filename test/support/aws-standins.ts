/**
 * Local stand-ins for S3 (`s3rver`) and DynamoDB (`dynalite`), started in-process on free ports
 * for the real SDK clients (see TOOLING.md). Neither package ships types: the small part of
 * their APIs used here is typed below and loaded with `createRequire`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listenLocal } from './listen';

const load = createRequire(__filename);

interface S3rverInstance {
  run(): Promise<AddressInfo>;
  httpServer?: Server;
}
type S3rverClass = new (opts: Record<string, unknown>) => S3rverInstance;
type DynaliteFactory = (opts: Record<string, unknown>) => Server;

/** Static credentials s3rver accepts. */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

/** A running stand-in. */
export interface StandIn {
  /** `http://127.0.0.1:<port>`: the SDK client's `endpoint`. */
  readonly endpoint: string;
  /** Stop it (open connections are dropped) and remove its files. */
  close(): Promise<void>;
}

/** Start s3rver with these buckets, storing objects in a fresh temporary directory. */
export async function startS3rver(buckets: readonly string[]): Promise<StandIn> {
  const S3rver = load('s3rver') as S3rverClass;
  const directory = await mkdtemp(join(tmpdir(), 'embedgate-s3rver-'));
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    configureBuckets: buckets.map((name) => ({ name })),
  });
  const { port } = await server.run();
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: async () => {
      await closeServer(server.httpServer!);
      await rm(directory, { recursive: true, force: true });
    },
  };
}

/** Start dynalite (in memory; tables become ACTIVE at once). */
export async function startDynalite(): Promise<StandIn> {
  const dynalite = load('dynalite') as DynaliteFactory;
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  const endpoint = await listenLocal(server);
  return { endpoint, close: () => closeServer(server) };
}

/** A local endpoint nothing listens on (the port is bound, then released). */
export async function deadEndpoint(): Promise<string> {
  const { createServer } = await import('node:net');
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', () => resolve()));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((err) => (err ? reject(err) : resolve()));
    server.closeAllConnections();
  });
}
