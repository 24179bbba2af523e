import { readFile } from 'node:fs/promises';
import type { SecretRef, SecretStore } from '../../core/ports';

/**
 * Secrets for `embedgate dev`: environment variables and files. Secrets Manager references are
 * refused with a clear message (they need AWS); use `{"source":"env"}` or `{"source":"file"}`
 * in a local configuration.
 */
export class LocalSecretStore implements SecretStore {
  constructor(private readonly env: NodeJS.ProcessEnv = process.env) {}

  async get(ref: SecretRef): Promise<string> {
    switch (ref.source) {
      case 'env': {
        const v = this.env[ref.name];
        if (v === undefined || v === '') throw new Error(`environment variable ${ref.name} is not set`);
        return v;
      }
      case 'file':
        return (await readFile(ref.path, 'utf8')).trim();
      case 'secretsManager':
        throw new Error(
          `secret "${ref.secretId}" lives in AWS Secrets Manager, which embedgate dev does not call; use {"source":"env"} or {"source":"file"} locally`,
        );
    }
  }
}
