/** AWS keys, JWTs, PEM private keys and provider API keys. */
import { apiKeyDetector } from '../../lambda/core/masking/detectors/api-key';
import { awsAccessKeyIdDetector, awsSecretAccessKeyDetector } from '../../lambda/core/masking/detectors/aws';
import { isJoseHeader, jwtDetector } from '../../lambda/core/masking/detectors/jwt';
import { privateKeyDetector } from '../../lambda/core/masking/detectors/private-key';
import { jwt, values } from './helpers';

const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';

describe('AWS access key id', () => {
  it('finds AKIA and ASIA ids', () => {
    expect(values(awsAccessKeyIdDetector, 'AKIAIOSFODNN7EXAMPLE and ASIAY34FZKBOKMUTVV7A')).toEqual([
      'AKIAIOSFODNN7EXAMPLE',
      'ASIAY34FZKBOKMUTVV7A',
    ]);
  });

  it.each([
    ['another prefix', 'AIDAIOSFODNN7EXAMPLE'],
    ['15 characters after the prefix', 'AKIAIOSFODNN7EXAMPL'],
    ['17 characters after the prefix', 'AKIAIOSFODNN7EXAMPLEX'],
    ['lower case', 'akiaiosfodnn7example'],
    ['glued to a word', 'xAKIAIOSFODNN7EXAMPLE'],
  ])('refuses %s', (_what, text) => {
    expect(values(awsAccessKeyIdDetector, `key ${text} end`)).toEqual([]);
  });
});

describe('AWS secret access key', () => {
  it.each([
    `aws_secret_access_key = ${SECRET}`,
    `AWS secret access key: ${SECRET}`,
    `{"SecretAccessKey": "${SECRET}"}`,
    `export AWS_SECRET_ACCESS_KEY=${SECRET}`,
  ])('finds the key after a context phrase: %s', (text) => {
    expect(values(awsSecretAccessKeyDetector, text)).toEqual([SECRET]);
  });

  it('refuses a 40-character value without context, or too far from it', () => {
    expect(values(awsSecretAccessKeyDetector, `value ${SECRET}`)).toEqual([]);
    expect(values(awsSecretAccessKeyDetector, `aws_secret_access_key ${'x '.repeat(60)}${SECRET}`)).toEqual([]);
  });

  it('refuses hex digests, single-case words and other lengths', () => {
    expect(values(awsSecretAccessKeyDetector, 'aws secret da39a3ee5e6b4b0d3255bfef95601890afd80709')).toEqual([]);
    expect(values(awsSecretAccessKeyDetector, `aws secret ${'abcdefghij'.repeat(4)}`)).toEqual([]);
    expect(values(awsSecretAccessKeyDetector, `aws secret ${SECRET}A`)).toEqual([]);
    expect(values(awsSecretAccessKeyDetector, `aws secret ${SECRET.slice(1)}`)).toEqual([]);
  });

  it('finds each key once when context phrases repeat', () => {
    const text = `aws_secret aws_secret ${SECRET} secret access key ${SECRET.split('').reverse().join('')}`;
    expect(values(awsSecretAccessKeyDetector, text)).toEqual([SECRET, SECRET.split('').reverse().join('')]);
  });
});

describe('JWT', () => {
  it('finds a signed token and an unsigned one (alg none, empty signature)', () => {
    const signed = jwt();
    const unsigned = `${jwt({ alg: 'none' }).split('.').slice(0, 2).join('.')}.`;
    expect(values(jwtDetector, `Bearer ${signed} and ${unsigned} ok`)).toEqual([signed, unsigned]);
  });

  it('refuses a header without alg, a header that is not JSON, and two parts only', () => {
    expect(values(jwtDetector, `t ${jwt({ typ: 'JWT' })}`)).toEqual([]);
    const notJson = `eyJub3Qgb.${jwt().split('.')[1]}.sig`;
    expect(values(jwtDetector, `t ${notJson}`)).toEqual([]);
    expect(values(jwtDetector, `t ${jwt().split('.').slice(0, 2).join('.')}`)).toEqual([]);
    expect(isJoseHeader('eyJhbGciOjF9')).toBe(false); // {"alg":1}
  });

  it('is delimited: not inside a longer base64url run', () => {
    expect(values(jwtDetector, `x${jwt()}`)).toEqual([]);
    expect(values(jwtDetector, `"${jwt()}"`)).toEqual([jwt()]);
  });
});

describe('PEM private key', () => {
  const body =
    'MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\nVJTUt9Us8cKjMzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dVMvDuictGeurT8jNbvJZHtCSuYEvu\n';
  it.each(['PRIVATE KEY', 'RSA PRIVATE KEY', 'EC PRIVATE KEY', 'OPENSSH PRIVATE KEY', 'ENCRYPTED PRIVATE KEY', 'PGP PRIVATE KEY BLOCK'])(
    'finds a %s block through its END line',
    (label) => {
      const pem = `-----BEGIN ${label}-----\n${body}-----END ${label}-----`;
      expect(values(privateKeyDetector, `key:\n${pem}\nthanks`)).toEqual([pem]);
    },
  );

  it('finds a key written with escaped newlines (JSON, .env)', () => {
    const pem = '-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBgkq\\n-----END PRIVATE KEY-----';
    expect(values(privateKeyDetector, `"key": "${pem}"`)).toEqual([pem]);
  });

  it('a block without END runs over its base64 body up to a blank line', () => {
    const text = `-----BEGIN PRIVATE KEY-----\n${body}\nThe rest of the message.`;
    expect(values(privateKeyDetector, text)).toEqual([`-----BEGIN PRIVATE KEY-----\n${body.trimEnd()}`]);
  });

  it('refuses public keys and certificates', () => {
    expect(values(privateKeyDetector, `-----BEGIN PUBLIC KEY-----\n${body}-----END PUBLIC KEY-----`)).toEqual([]);
    expect(values(privateKeyDetector, `-----BEGIN CERTIFICATE-----\n${body}-----END CERTIFICATE-----`)).toEqual([]);
  });

  it('finds two keys in one text', () => {
    const pem = `-----BEGIN PRIVATE KEY-----\n${body}-----END PRIVATE KEY-----`;
    expect(values(privateKeyDetector, `${pem}\n${pem}`)).toEqual([pem, pem]);
  });
});

describe('provider API keys', () => {
  const r = (n: number, seed = 7): string => {
    const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
    let x = seed;
    return Array.from({ length: n }, () => chars[(x = (x * 1103515245 + 12345) % 2147483648) % 62]).join('');
  };
  it.each([
    ['OpenAI legacy', `sk-${r(48)}`],
    ['OpenAI project', `sk-proj-${r(40)}_${r(40, 3)}`],
    ['OpenAI service account', `sk-svcacct-${r(60)}`],
    ['Anthropic', `sk-ant-api03-${r(93)}AA`],
    ['GitHub classic', `ghp_${r(36)}`],
    ['GitHub OAuth', `gho_${r(36)}`],
    ['GitHub user-to-server', `ghu_${r(36)}`],
    ['GitHub server-to-server', `ghs_${r(36)}`],
    ['GitHub refresh', `ghr_${r(36)}`],
    ['GitHub fine-grained', `github_pat_${r(22)}_${r(59)}`],
    ['Slack bot', `xoxb-123456789012-1234567890123-${r(24)}`],
    ['Slack user', `xoxp-123456789012-1234567890123-${r(24)}`],
    ['Stripe live', `sk_live_${r(24)}`],
    ['Stripe restricted', `rk_live_${r(24)}`],
    ['Google', `AIza${r(35)}`],
    ['GitLab', `glpat-${r(20)}`],
    ['npm', `npm_${r(36)}`],
    ['Hugging Face', `hf_${r(34)}`],
  ])('finds %s', (_what, key) => {
    expect(values(apiKeyDetector, `key=${key} # rotate`)).toEqual([key]);
  });

  it.each([
    ['hyphenated words', 'sk-learn-style-names-are-common-here'],
    ['a short sk- value', 'sk-abc123'],
    ['a GitHub prefix with a short body', `ghp_${'a1'.repeat(10)}`],
    ['glued to a word', `mask-${'aB3'.repeat(10)}`],
    ['Google prefix, wrong length', `AIza${'aB3'.repeat(10)}`],
  ])('refuses %s', (_what, text) => {
    expect(values(apiKeyDetector, `see ${text} end`)).toEqual([]);
  });
});
