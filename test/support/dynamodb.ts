/** DynamoDB clients and tables on a local stand-in (dynalite, `startDynalite` in aws-standins.ts). */
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';

/** A DynamoDB client of a stand-in (no retries: a test sees the first answer). */
export function dynamoDbClientOf(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIDFAKE', secretAccessKey: 'fake-secret' },
    maxAttempts: 1,
  });
}

/** Create an on-demand table keyed by one string attribute. */
export async function createKeyedTable(client: DynamoDBClient, name: string, key: string): Promise<void> {
  await client.send(
    new CreateTableCommand({
      TableName: name,
      AttributeDefinitions: [{ AttributeName: key, AttributeType: 'S' }],
      KeySchema: [{ AttributeName: key, KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
}
