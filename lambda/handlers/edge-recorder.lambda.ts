/**
 * The edge recorder Lambda's entry (bundled into assets/edge-recorder/index.mjs). Same
 * configuration document and archive as the proxy; it never verifies a token or calls a model.
 */
import { Gateway } from '../core/gateway';
import { config } from './config.mjs';
import { deployedArchive } from './deployed';
import { TokenVerifier } from '../core/identity';
import { networkKeySetFetch } from '../adapters/network/key-set-fetch';
import { systemClock, uuidv7Ids } from '../core/ids';
import { InMemoryRevocationList } from '../adapters/local/revocations';
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { createEdgeRecorder } from './edge-recorder';
import { logger } from './powertools';

const gateway = new Gateway({
  config,
  // Edge entries are recorded as rejected; the pipeline never reaches identity or a provider.
  verifier: new TokenVerifier(config, { fetch: networkKeySetFetch }),
  provider: (m) => {
    throw new Error(`the edge recorder never calls a model (asked for ${m.name})`);
  },
  // Never consulted: an edge entry is recorded as rejected before identity or revocation run.
  revocations: new InMemoryRevocationList(),
  archive: deployedArchive(),
  clock: systemClock,
  ids: uuidv7Ids(systemClock),
});

export const handler = middy(createEdgeRecorder(gateway)).use(injectLambdaContext(logger, { resetKeys: true, logEvent: false }));
