/**
 * The file `embedgate dev --config` reads: the gateway configuration document, plus an optional
 * `dev` section for the embedded OIDC issuer. The `dev` section is removed before the document
 * goes through the one validator (`loadConfig`); when the embedded issuer runs, it is added to
 * the trusted issuers under `dev.issuer.id`.
 */
import { readFileSync } from 'node:fs';
import * as z from 'zod';
import { loadConfig, type GatewayConfig } from '../shared/config';
import { ConfigError } from '../shared/config';

const devClientSchema = z.strictObject({
  clientId: z.string().min(1),
  clientSecret: z.string().min(8, { error: 'clientSecret must be at least 8 characters' }),
  scopes: z.array(z.string().min(1)).optional(),
  claims: z.record(z.string(), z.unknown()).optional(),
  accessTokenTtlSeconds: z.number().int().positive().optional(),
});

const devUserSchema = z.strictObject({
  username: z.string().min(1),
  password: z.string().min(8, { error: 'password must be at least 8 characters' }),
  claims: z.record(z.string(), z.unknown()).optional(),
});

const devSchema = z.strictObject({
  issuer: z
    .strictObject({
      /** Trusted-issuer id the embedded issuer gets (policy rules match on it). */
      id: z.string().min(1).default('dev'),
      /** 0 picks a free port. */
      port: z.number().int().min(0).max(65535).default(0),
      audience: z.string().min(1),
      clients: z.array(devClientSchema).min(1, { error: 'dev.issuer.clients must list at least one client' }),
      /** People who sign in at the issuer's login page (the reviewers' page, when `reviewerPage.issuerId` is this issuer). */
      users: z.array(devUserSchema).default([]),
      accessTokenTtlSeconds: z.number().int().positive().default(300),
      clockToleranceSeconds: z.number().int().min(0).max(300).default(5),
    })
    .optional(),
});

export type DevSection = z.output<typeof devSchema>;
export type DevIssuerSection = NonNullable<DevSection['issuer']>;

export interface DevConfigFile {
  /** The raw gateway document (without `dev`). */
  readonly document: Record<string, unknown>;
  readonly dev: DevSection;
}

/** Read and split a dev configuration file; errors name the file and the path. */
export function readDevConfigFile(path: string): DevConfigFile {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new ConfigError([`${path}: cannot read JSON: ${(e as Error).message}`]);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    throw new ConfigError([`${path}: the configuration must be a JSON object`]);
  const { dev, ...document } = raw as Record<string, unknown>;
  const parsed = devSchema.safeParse(dev ?? {});
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map(
        (i) => `dev${i.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('')}: ${i.message}`,
      ),
    );
  }
  return { document, dev: parsed.data };
}

/** Validate the document, with the embedded issuer (if running) added to the trusted issuers. */
export function buildConfig(file: DevConfigFile, embeddedIssuerUrl?: string): GatewayConfig {
  const doc = { ...file.document };
  const issuer = file.dev.issuer;
  if (issuer && embeddedIssuerUrl) {
    const issuers = Array.isArray(doc.issuers) ? doc.issuers : [];
    doc.issuers = [
      ...issuers,
      {
        id: issuer.id,
        issuer: embeddedIssuerUrl,
        audiences: [issuer.audience],
        algorithms: ['RS256'],
        requiredTyp: 'at+jwt',
        clockToleranceSeconds: issuer.clockToleranceSeconds,
      },
    ];
  }
  return loadConfig(doc);
}

/**
 * The public client the embedded issuer registers for the reviewers' page: when the document's
 * `reviewerPage` signs in with the embedded issuer, its `clientId`, redirected to `/review` on a
 * loopback address (any port).
 */
export function devPublicClients(file: DevConfigFile): { clientId: string; redirectUris: string[]; scopes: string[] }[] {
  const page = file.document.reviewerPage as { issuerId?: unknown; clientId?: unknown; scopes?: unknown } | undefined;
  const issuer = file.dev.issuer;
  if (!issuer || !page || page.issuerId !== issuer.id || typeof page.clientId !== 'string') return [];
  const scopes = Array.isArray(page.scopes) ? page.scopes.filter((x): x is string => typeof x === 'string' && x !== 'openid') : [];
  return [{ clientId: page.clientId, redirectUris: ['http://127.0.0.1/review', 'http://localhost/review'], scopes }];
}
