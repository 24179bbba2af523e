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
import type { SecretRef } from '../lambda/core/ports';

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

/** A secret reference of the configuration that `embedgate dev` cannot resolve, with the fix. */
export interface MissingSecret {
  /** Where the reference is, e.g. `masking.pseudonymKey` or `models[0].apiKey`. */
  readonly path: string;
  /** One line: what is missing and how to provide it. */
  readonly message: string;
}

const SECRET_SOURCES = new Set(['env', 'file', 'secretsManager']);

/** Every secret reference of the document (`{"source": "env" | "file" | "secretsManager", ...}`), by path; masking's only when masking is on. */
export function secretReferences(config: GatewayConfig): { path: string; ref: SecretRef }[] {
  const found: { path: string; ref: SecretRef }[] = [];
  const walk = (v: unknown, path: string): void => {
    if (Array.isArray(v)) return v.forEach((x, i) => walk(x, `${path}[${i}]`));
    if (v === null || typeof v !== 'object') return;
    const o = v as Record<string, unknown>;
    if (typeof o.source === 'string' && SECRET_SOURCES.has(o.source) && ('name' in o || 'path' in o || 'secretId' in o)) {
      found.push({ path, ref: o as unknown as SecretRef });
      return;
    }
    for (const [k, x] of Object.entries(o)) {
      if (k === 'masking' && path === '' && (x as { enabled?: boolean } | undefined)?.enabled === false) continue;
      walk(x, path ? `${path}.${k}` : k);
    }
  };
  walk(config, '');
  return found;
}

/**
 * Resolve every secret reference the configuration needs, before the gateway starts: a missing
 * one would otherwise surface only as a 503 on the first request that needs it.
 */
export function missingSecrets(config: GatewayConfig, env: NodeJS.ProcessEnv = process.env): MissingSecret[] {
  const missing: MissingSecret[] = [];
  for (const { path, ref } of secretReferences(config)) {
    const fix =
      path === 'masking.pseudonymKey'
        ? 'the HMAC key of pseudonyms, at least 32 random bytes (e.g. $(openssl rand -hex 32))'
        : 'the upstream API key';
    switch (ref.source) {
      case 'env':
        if (!env[ref.name])
          missing.push({ path, message: `${path}: environment variable ${ref.name} is not set: export ${ref.name}=<${fix}>` });
        break;
      case 'file':
        try {
          if (readFileSync(ref.path, 'utf8').trim() === '')
            missing.push({ path, message: `${path}: file ${ref.path} is empty: write ${fix} into it` });
        } catch (e) {
          missing.push({
            path,
            message: `${path}: cannot read file ${ref.path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): write ${fix} into it`,
          });
        }
        break;
      case 'secretsManager':
        missing.push({
          path,
          message: `${path}: secret "${ref.secretId}" lives in AWS Secrets Manager, which embedgate dev does not call: use {"source":"env","name":"..."} or {"source":"file","path":"..."} locally`,
        });
        break;
    }
  }
  return missing;
}
