import { ArnFormat, Stack, Token, Validations, type Duration } from 'aws-cdk-lib';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';

/** Limits a model puts on every request (policy rules can tighten them further). */
export interface ModelLimits {
  /**
   * Most items in `input` per request.
   * @default - no limit beyond the gateway's request size
   */
  readonly maxInputs?: number;
  /**
   * Most characters per input item (token ids for token inputs).
   * @default - no limit
   */
  readonly maxInputChars?: number;
  /**
   * Most characters over all items of one request.
   * @default - no limit
   */
  readonly maxTotalChars?: number;
  /**
   * The `dimensions` values clients may ask for.
   * @default - any
   */
  readonly allowedDimensions?: number[];
}

/** How the gateway talks to the upstream. */
export interface UpstreamCallOptions {
  /**
   * Most items per upstream request; larger inputs are split and reassembled in order.
   * @default 2048 (96 for Cohere)
   */
  readonly maxBatchSize?: number;
  /**
   * Most upstream requests in flight for one client request.
   * @default 4
   */
  readonly concurrency?: number;
  /**
   * Timeout of one upstream attempt.
   * @default Duration.seconds(30)
   */
  readonly timeout?: Duration;
  /**
   * Retries after the first attempt for 429, 5xx, resets and timeouts.
   * @default 2
   */
  readonly maxRetries?: number;
}

/** Options every model takes. */
export interface ModelOptions {
  /**
   * The model name clients send in `model`.
   * @default - the upstream model id
   */
  readonly name?: string;
  /**
   * Request limits.
   * @default - none
   */
  readonly limits?: ModelLimits;
  /**
   * Upstream call options.
   * @default - see `UpstreamCallOptions`
   */
  readonly upstream?: UpstreamCallOptions;
}

/** A model reached with an API key. */
export interface KeyedModelOptions extends ModelOptions {
  /**
   * The Secrets Manager secret holding the upstream API key (as its whole `SecretString`, or
   * under `apiKeyField` of a JSON `SecretString`).
   * @default - a new secret is created; set its value after the first deploy with
   *   `aws secretsmanager put-secret-value --secret-id <ApiKeySecretArn output> --secret-string <key>`
   */
  readonly apiKey?: secretsmanager.ISecret;
  /**
   * Field of a JSON `SecretString` that holds the key.
   * @default - the whole `SecretString` is the key
   */
  readonly apiKeyField?: string;
}

/** An OpenAI model. */
export interface OpenAiModelOptions extends KeyedModelOptions {
  /** The OpenAI model id, e.g. `text-embedding-3-small`. */
  readonly model: string;
  /**
   * API base URL.
   * @default 'https://api.openai.com/v1'
   */
  readonly baseUrl?: string;
}

/** An Azure OpenAI deployment. */
export interface AzureOpenAiModelOptions extends KeyedModelOptions {
  /** The resource endpoint, e.g. `https://my-resource.openai.azure.com`. */
  readonly endpoint: string;
  /** The deployment name. */
  readonly deployment: string;
  /**
   * Azure OpenAI `api-version`.
   * @default '2024-10-21'
   */
  readonly apiVersion?: string;
}

/** A Cohere model on Cohere's own API. */
export interface CohereModelOptions extends KeyedModelOptions {
  /** The Cohere model id, e.g. `embed-english-v3.0`. */
  readonly model: string;
  /**
   * API base URL.
   * @default 'https://api.cohere.com'
   */
  readonly baseUrl?: string;
}

/** A model on any OpenAI-compatible server (TEI, vLLM, Ollama, LiteLLM, ...). */
export interface OpenAiCompatibleModelOptions extends ModelOptions {
  /** The model id the server expects. */
  readonly model: string;
  /**
   * The secret holding the server's API key.
   * @default - no key is sent (servers inside your network often need none)
   */
  readonly apiKey?: secretsmanager.ISecret;
  /**
   * Field of a JSON `SecretString` that holds the key.
   * @default - the whole `SecretString`
   */
  readonly apiKeyField?: string;
  /**
   * Whether the server is reached through the VPC only (a private address, e.g. an internal
   * load balancer). When false, the gateway needs internet egress for it.
   * @default false
   */
  readonly inVpc?: boolean;
}

/** Options of `UpstreamModel.bind`. */
export interface UpstreamModelBindOptions {
  /**
   * Key for a secret the binding creates.
   * @default - the account's `aws/secretsmanager` key
   */
  readonly encryptionKey?: kms.IKey;
}

/** What binding a model produced: its configuration entry and what the proxy needs. */
export interface UpstreamModelBinding {
  /** The model's entry in the gateway configuration document. */
  readonly config: { readonly [key: string]: unknown };
  /** The secret the proxy must be able to read, if any. */
  readonly secret?: secretsmanager.ISecret;
  /** IAM statements the proxy needs (Bedrock models). */
  readonly statements: iam.PolicyStatement[];
  /** Whether calling this model needs egress to the internet. */
  readonly needsInternet: boolean;
  /** Whether this model is on Amazon Bedrock (needs the bedrock-runtime endpoint). */
  readonly isBedrock: boolean;
}

type Kind = 'openai' | 'azure-openai' | 'cohere' | 'openai-compatible' | 'bedrock';

/**
 * An embedding model the gateway forwards to. Choose with a factory:
 * `UpstreamModel.openAi(...)`, `.azureOpenAi(...)`, `.bedrock(modelId)`, `.cohere(...)`,
 * `.openAiCompatible(url, ...)`.
 */
export class UpstreamModel {
  /** An OpenAI model. */
  public static openAi(options: OpenAiModelOptions): UpstreamModel {
    requireText(options.model, 'UpstreamModel.openAi: model');
    return new UpstreamModel(
      'openai',
      options.name ?? options.model,
      options.model,
      httpsUrl(options.baseUrl ?? 'https://api.openai.com/v1', 'UpstreamModel.openAi: baseUrl'),
      options,
      true,
    );
  }

  /** An Azure OpenAI deployment. */
  public static azureOpenAi(options: AzureOpenAiModelOptions): UpstreamModel {
    requireText(options.deployment, 'UpstreamModel.azureOpenAi: deployment');
    const m = new UpstreamModel(
      'azure-openai',
      options.name ?? options.deployment,
      options.deployment,
      httpsUrl(options.endpoint, 'UpstreamModel.azureOpenAi: endpoint'),
      options,
      true,
    );
    m.apiVersion = options.apiVersion ?? '2024-10-21';
    return m;
  }

  /** A Cohere model on Cohere's API. */
  public static cohere(options: CohereModelOptions): UpstreamModel {
    requireText(options.model, 'UpstreamModel.cohere: model');
    const upstream = { maxBatchSize: 96, ...options.upstream };
    return new UpstreamModel(
      'cohere',
      options.name ?? options.model,
      options.model,
      httpsUrl(options.baseUrl ?? 'https://api.cohere.com', 'UpstreamModel.cohere: baseUrl'),
      { ...options, upstream },
      true,
    );
  }

  /**
   * A model on Amazon Bedrock, called with the proxy function's IAM role (no key): Titan Text
   * Embeddings (`amazon.titan-embed-text-v2:0`) or Cohere Embed (`cohere.embed-english-v3`,
   * `cohere.embed-multilingual-v3`). The proxy may invoke exactly this model.
   */
  public static bedrock(modelId: string, options: ModelOptions = {}): UpstreamModel {
    requireText(modelId, 'UpstreamModel.bedrock: modelId');
    if (!Token.isUnresolved(modelId) && !/^(amazon\.titan-embed|cohere\.embed)/.test(modelId)) {
      throw new Error(
        `UpstreamModel.bedrock: "${modelId}" is not a supported embedding model; use amazon.titan-embed-text-v2:0, cohere.embed-english-v3 or cohere.embed-multilingual-v3`,
      );
    }
    const upstream = modelId.startsWith('cohere.') ? { maxBatchSize: 96, ...options.upstream } : options.upstream;
    return new UpstreamModel('bedrock', options.name ?? modelId, modelId, undefined, { ...options, upstream }, false);
  }

  /** A model on an OpenAI-compatible server at `url` (its base URL, e.g. `https://tei.internal/v1`). */
  public static openAiCompatible(url: string, options: OpenAiCompatibleModelOptions): UpstreamModel {
    requireText(options.model, 'UpstreamModel.openAiCompatible: model');
    const m = new UpstreamModel(
      'openai-compatible',
      options.name ?? options.model,
      options.model,
      httpsUrl(url, 'UpstreamModel.openAiCompatible: url'),
      options,
      false,
    );
    m.outsideVpc = !options.inVpc;
    return m;
  }

  /** The model name clients use. */
  public readonly name: string;
  /** The provider kind, as in the configuration document. */
  public readonly kind: string;
  /** Whether binding this model creates a secret (it needs a key and none was given). */
  public get needsCreatedSecret(): boolean {
    return this.keyRequired && !this.options.apiKey;
  }
  private apiVersion?: string;
  private outsideVpc: boolean;

  private constructor(
    kind: Kind,
    name: string,
    private readonly upstreamModel: string,
    private readonly baseUrl: string | undefined,
    private readonly options: ModelOptions & { apiKey?: secretsmanager.ISecret; apiKeyField?: string },
    private readonly keyRequired: boolean,
  ) {
    requireText(name, 'UpstreamModel: name');
    this.name = name;
    this.kind = kind;
    this.outsideVpc = kind !== 'bedrock';
    validateLimits(name, options.limits);
  }

  /**
   * Create what the model needs in `scope` (its secret, unless one was given) and return its
   * configuration entry. Called by `EmbeddingGateway`; not meant for direct use.
   */
  public bind(scope: Construct, id: string, options: UpstreamModelBindOptions = {}): UpstreamModelBinding {
    let secret = this.options.apiKey;
    if (!secret && this.keyRequired) {
      const created = new secretsmanager.Secret(scope, id, {
        description: `embedgate: upstream API key of model "${this.name}" (${this.kind}). Set it after deploy: aws secretsmanager put-secret-value --secret-id <arn> --secret-string <key>`,
        ...(options.encryptionKey ? { encryptionKey: options.encryptionKey } : {}),
      });
      const reason = `The upstream API key of model "${this.name}" is issued by the provider (${this.kind}); no rotation Lambda can create one. Rotate it at the provider and put the new value into this secret (the proxy refreshes its cache on a 401).`;
      Validations.of(created).acknowledge(
        { id: 'AwsSolutions-SMG4', reason },
        { id: 'NIST.800.53.R5-SecretsManagerRotationEnabled', reason },
      );
      secret = created;
    }
    const statements: iam.PolicyStatement[] = [];
    if (this.kind === 'bedrock') {
      statements.push(
        new iam.PolicyStatement({
          actions: ['bedrock:InvokeModel'],
          resources: [
            Stack.of(scope).formatArn({
              service: 'bedrock',
              account: '',
              resource: 'foundation-model',
              resourceName: this.upstreamModel,
              arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
            }),
          ],
        }),
      );
    }
    const u = this.options.upstream ?? {};
    const config = {
      name: this.name,
      provider: this.kind,
      upstreamModel: this.upstreamModel,
      ...(this.baseUrl ? { baseUrl: this.baseUrl } : {}),
      ...(secret
        ? {
            apiKey: {
              source: 'secretsManager',
              secretId: secret.secretArn,
              ...(this.options.apiKeyField ? { field: this.options.apiKeyField } : {}),
            },
          }
        : {}),
      ...(this.apiVersion ? { apiVersion: this.apiVersion } : {}),
      limits: { ...this.options.limits },
      upstream: {
        ...(u.maxBatchSize !== undefined ? { maxBatchSize: u.maxBatchSize } : {}),
        ...(u.concurrency !== undefined ? { concurrency: u.concurrency } : {}),
        ...(u.timeout !== undefined ? { timeoutMs: u.timeout.toMilliseconds() } : {}),
        ...(u.maxRetries !== undefined ? { maxRetries: u.maxRetries } : {}),
      },
    };
    return { config, secret, statements, needsInternet: this.outsideVpc, isBedrock: this.kind === 'bedrock' };
  }
}

function requireText(v: string | undefined, what: string): void {
  if (v === undefined || (!Token.isUnresolved(v) && v.trim() === '')) throw new Error(`${what} must be a non-empty string`);
}

function httpsUrl(url: string, what: string): string {
  if (Token.isUnresolved(url)) return url;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`${what} must be an absolute https:// URL, got ${JSON.stringify(url)}`);
  }
  if (u.protocol !== 'https:')
    throw new Error(`${what} must use https:// (got ${JSON.stringify(url)}): upstream keys never travel in clear text`);
  return url.replace(/\/+$/, '');
}

function validateLimits(name: string, l: ModelLimits | undefined): void {
  if (!l) return;
  for (const [k, v] of Object.entries({ maxInputs: l.maxInputs, maxInputChars: l.maxInputChars, maxTotalChars: l.maxTotalChars })) {
    if (v !== undefined && !Token.isUnresolved(v) && (!Number.isInteger(v) || v < 1)) {
      throw new Error(`model "${name}": limits.${k} must be a positive integer, got ${v}`);
    }
  }
  if (l.allowedDimensions && l.allowedDimensions.length === 0) {
    throw new Error(`model "${name}": limits.allowedDimensions must list at least one value; omit it to allow any`);
  }
}
