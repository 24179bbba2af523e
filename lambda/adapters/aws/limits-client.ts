/**
 * The limits stage of the proxy with its DynamoDB counter store. The proxy entry imports this
 * module with `import()` only (a chunk of its own): gateways without rate limits never load it,
 * and those with them load it during init.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { GatewayConfig } from '../../../shared/config';
import type { Clock } from '../../core/ports';
import { RateLimiter, type LimitEvent } from '../../core/limits/stage';
import { DynamoDbLimitStore } from './dynamodb-limits';

export function rateLimiter(
  config: GatewayConfig,
  dynamodb: DynamoDBClient,
  tableName: string,
  clock: Clock,
  onEvent: (e: LimitEvent) => void,
): RateLimiter {
  return new RateLimiter({ config, store: new DynamoDbLimitStore(dynamodb, { tableName }), clock, onEvent });
}
