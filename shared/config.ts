/**
 * The gateway configuration, one import for the code that validates or ships it (the construct,
 * `embedgate dev`, the CLI, tests). It brings in the schema (zod): a Lambda's start path imports
 * shared/config-runtime.ts instead (values), and this module or shared/config-schema.ts for types
 * only. Where each part lives:
 * - shared/config-base.ts: ConfigError, isLoopback, configVersion, expandEnvRefs (no zod);
 * - shared/config-schema.ts: the schema's top level (issuers, models, gateway), its types, loadConfig;
 *   its sections in shared/config-schema-policy.ts and shared/config-schema-masking.ts, shared field
 *   rules in shared/config-schema-fields.ts;
 * - shared/config-runtime.ts: the shipped (sealed) document as the Lambdas open it (no zod);
 * - shared/config-ship.ts: shipConfig, what the construct writes for the Lambdas.
 */
export { canonicalJson, sha256Hex } from './canonical';
export { ConfigError, configVersion, expandEnvRefs, isLoopback } from './config-base';
export * from './config-schema';
export { shipConfig } from './config-ship';
