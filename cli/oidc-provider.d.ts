// oidc-provider ships no type declarations; cli/issuer.ts declares the slice it uses.
declare module 'oidc-provider';
