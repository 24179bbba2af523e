/**
 * Reusable configuration fixtures: raw documents (what an operator writes, before `loadConfig`)
 * built from small, valid pieces, plus a principal builder for policy tests.
 *
 * Every builder returns a fresh object, so a test may mutate what it gets. Overrides are shallow:
 * a key given as `undefined` is removed, which is how a test writes "the same document without X".
 *
 *   baseConfig()                                  one trusted issuer, one local model, one allow rule
 *   baseConfig({ models: [openaiModelDoc()] })    replace a whole top-level member
 *   validConfig({ policy: { rules: [] } })        the loaded (validated, versioned) configuration
 *   configIssues(doc)                             the ConfigError issues of an invalid document
 */
import { loadConfig, type GatewayConfig } from '../../shared/config';
import { ConfigError } from '../../shared/config';
import type { Principal } from '../../lambda/core/principal';

/** A raw (unvalidated) document or part of one. Loose on purpose: tests also build invalid ones. */
export type Doc = Record<string, unknown>;

export const ISSUER_ID = 'corp';
export const ISSUER_URL = 'https://idp.example.com';
export const AUDIENCE = 'https://embedgate.example.com/api';
export const LOCAL_MODEL = 'local-small';

/** Shallow merge where an `undefined` override deletes the key. */
export function merge(base: Doc, overrides: Doc = {}): Doc {
  const out: Doc = { ...base };
  for (const [k, v] of Object.entries(overrides)) {
    if (v === undefined) delete out[k];
    else out[k] = v;
  }
  return out;
}

/** A trusted issuer entry: `corp`, https://idp.example.com, one audience, defaults otherwise. */
export function issuerDoc(overrides: Doc = {}): Doc {
  return merge({ id: ISSUER_ID, issuer: ISSUER_URL, audiences: [AUDIENCE] }, overrides);
}

/** A `local` model (no upstream, no key). */
export function localModelDoc(overrides: Doc = {}): Doc {
  return merge({ name: LOCAL_MODEL, provider: 'local', dimensions: 8 }, overrides);
}

/** An `openai` model with every required field (base URL and an env key reference). */
export function openaiModelDoc(overrides: Doc = {}): Doc {
  return merge(
    {
      name: 'text-embedding-3-small',
      provider: 'openai',
      baseUrl: 'https://api.openai.com/v1',
      apiKey: { source: 'env', name: 'OPENAI_API_KEY' },
    },
    overrides,
  );
}

/** An `azure-openai` model with every required field. */
export function azureModelDoc(overrides: Doc = {}): Doc {
  return merge(
    {
      name: 'azure-embed',
      provider: 'azure-openai',
      upstreamModel: 'embed-deployment',
      baseUrl: 'https://acme.openai.azure.com',
      apiKey: { source: 'secretsManager', secretId: 'embedgate/azure', field: 'key' },
      apiVersion: '2024-10-21',
    },
    overrides,
  );
}

/** A policy rule; by default `allow` everyone from the `corp` issuer on every model. */
export function ruleDoc(overrides: Doc = {}): Doc {
  return merge({ id: 'allow-corp', effect: 'allow', match: { issuer: [ISSUER_ID] }, models: ['*'] }, overrides);
}

/** A valid raw configuration document; top-level members may be replaced or (with `undefined`) removed. */
export function baseConfig(overrides: Doc = {}): Doc {
  return merge(
    {
      issuers: [issuerDoc()],
      models: [localModelDoc()],
      policy: { rules: [ruleDoc()] },
    },
    overrides,
  );
}

/** `loadConfig(baseConfig(overrides))`: a validated, versioned configuration. */
export function validConfig(overrides: Doc = {}): GatewayConfig {
  return loadConfig(baseConfig(overrides));
}

/** Shorthand for a configuration with the given models and rules (and the default issuer). */
export function configWith(models: readonly Doc[], rules: readonly Doc[]): GatewayConfig {
  return validConfig({ models: [...models], policy: { rules: [...rules] } });
}

/** The issues of the `ConfigError` that loading `doc` must throw; fails the test otherwise. */
export function configIssues(doc: unknown): readonly string[] {
  try {
    loadConfig(doc);
  } catch (e) {
    if (e instanceof ConfigError) return e.issues;
    throw e;
  }
  throw new Error('expected loadConfig to throw a ConfigError, but the document loaded');
}

/** A verified principal of the default issuer. */
export function principal(overrides: Partial<Principal> = {}): Principal {
  return {
    issuerId: ISSUER_ID,
    issuer: ISSUER_URL,
    subject: 'svc-indexer',
    clientId: 'svc-indexer',
    groups: [],
    scopes: [],
    tokenId: null,
    expiresAt: null,
    ...overrides,
  };
}
