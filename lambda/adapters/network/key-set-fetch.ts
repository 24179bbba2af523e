/**
 * The `KeySetFetch` port over the network: issuers' discovery documents and key sets fetched
 * directly (Node's fetch). For `embedgate dev` and for gateways whose proxy can reach the issuers
 * (internet egress); an isolated VPC reads a key mirror instead.
 */
import type { KeySetFetch } from '../../core/ports';

export const networkKeySetFetch: KeySetFetch = (url, init) => fetch(url, init as RequestInit);
