// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'cdk.out/', 'coverage/', '**/*.d.ts', '.archive/', 'tmp/', 'assets/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        require: 'readonly',
        module: 'writable',
        __dirname: 'readonly',
        Buffer: 'readonly',
        URL: 'readonly',
        fetch: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        AbortController: 'readonly',
        TextEncoder: 'readonly',
        TextDecoder: 'readonly',
        performance: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['@aws-sdk/*'], message: 'The core never imports the AWS SDK: use a port.' }] },
      ],
    },
  },
  {
    // The AWS adapters are the one place allowed to use the AWS SDK.
    files: [
      'lambda/adapters/aws/**',
      'lambda/providers/bedrock.ts',
      'lambda/handlers/*.lambda.ts',
      'lambda/handlers/deployed.ts',
      'cli/**',
      'test/**',
    ],
    rules: { 'no-restricted-imports': 'off' },
  },
  {
    // Adapters implement the core's ports; providers are composed with them by the handlers.
    files: ['lambda/adapters/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['**/providers/**', '**/providers'], message: 'Adapters import no providers: bind them in lambda/handlers/.' },
          ],
        },
      ],
    },
  },
  {
    files: ['lib/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['**/lambda/**', '../lambda/*'], message: 'lib/ never imports lambda/: refer to bundles as assets.' }] },
      ],
    },
  },
  {
    // The reviewers' page: a browser ES module.
    files: ['reviewer-page/**/*.js'],
    languageOptions: {
      sourceType: 'module',
      globals: {
        document: 'readonly',
        window: 'readonly',
        location: 'readonly',
        history: 'readonly',
        sessionStorage: 'readonly',
        crypto: 'readonly',
        btoa: 'readonly',
        atob: 'readonly',
        URLSearchParams: 'readonly',
      },
    },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
