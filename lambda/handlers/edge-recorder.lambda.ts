/**
 * The edge recorder Lambda's entry (bundled into assets/edge-recorder/index.mjs). Same
 * configuration document and archive as the proxy; it never verifies a token or calls a model:
 * it only records, through the session recorder.
 */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { systemClock } from '../core/ids';
import { SessionRecorder } from '../core/recorder';
import { config } from './config.mjs';
import { deployedArchive } from './deployed';
import { createEdgeRecorder } from './edge-recorder';
import { logger } from './powertools';

const recorder = new SessionRecorder({ config, archive: deployedArchive(), clock: systemClock });

export const handler = middy(createEdgeRecorder(recorder)).use(injectLambdaContext(logger, { resetKeys: true, logEvent: false }));
