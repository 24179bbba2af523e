/**
 * The AWS credentials of the Lambda bundles: the ones the Lambda runtime puts in the function's
 * environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`: the execution
 * role's session).
 *
 * scripts/bundle.mjs resolves `@aws-sdk/credential-provider-node` (the SDK's default chain: env,
 * SSO, INI files, credential_process, web identity, container and instance metadata, with the
 * nested STS/SSO clients they need) to this module, so every SDK client in a bundle created
 * without `credentials` uses this provider. None of the other sources exists in Lambda, and the
 * chain cost about 100 KiB of bundle. Outside the bundles (tests, `embedgate dev`) the SDK's own
 * default chain applies as usual.
 *
 * Missing variables reject with the SDK's `CredentialsProviderError` ("Unable to find environment
 * variable credentials."), as the default chain does when nothing is found.
 */
import { fromEnv, type FromEnvInit } from '@aws-sdk/credential-provider-env';

/** Stands in for `@aws-sdk/credential-provider-node`'s `defaultProvider` in the bundles. */
export const defaultProvider = (init?: FromEnvInit) => fromEnv(init);
