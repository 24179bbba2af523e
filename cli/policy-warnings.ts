/**
 * `embedgate config validate`: the configuration's version, and its warnings
 * (shared/config-warnings.ts). Groups and scopes are known when the embedded dev issuer is the
 * only trusted issuer: they are then exactly what its clients' tokens carry.
 */
import { configWarnings, type ConfigWarning, type WarningContext } from '../shared/config-warnings';
import type { GatewayConfig } from '../shared/config';
import { buildConfig, readDevConfigFile, type DevConfigFile } from './dev-config';

export function validateConfigFile(path: string): { config: GatewayConfig; warnings: ConfigWarning[] } {
  const file = readDevConfigFile(path);
  const config = buildConfig(file, file.dev.issuer ? 'http://127.0.0.1:1' : undefined);
  return { config, warnings: configWarnings(config, knownPrincipals(file, config)) };
}

/** Groups and scopes the dev issuer's clients carry, when it is the only trusted issuer. */
export function knownPrincipals(file: DevConfigFile, config: GatewayConfig): WarningContext {
  const dev = file.dev.issuer;
  if (!dev || config.issuers.length !== 1) return {};
  const groupClaims = config.issuers[0]!.claims.groups;
  const groups = new Set<string>();
  const scopes = new Set<string>();
  for (const c of dev.clients) {
    for (const name of groupClaims) {
      const v = c.claims?.[name];
      for (const g of typeof v === 'string' ? [v] : Array.isArray(v) ? v : []) if (typeof g === 'string') groups.add(g);
    }
    for (const s of c.scopes ?? []) scopes.add(s);
  }
  return { knownGroups: [...groups], knownScopes: [...scopes] };
}
