/**
 * Stage `revocation`: the runtime deny list (a subject, a client id or one token), checked on
 * every route right after identity. In: the principal. Out: nothing, or 403 `principal_revoked`
 * (the record's reason names what was revoked: `revoked_subject`, `revoked_client`, `revoked_token`).
 */
import { forbidden } from '../errors';
import type { Principal } from '../principal';
import type { RevocationList } from '../ports';

export async function checkRevocation(revocations: RevocationList, p: Principal): Promise<void> {
  const revoked = await revocations.find({ issuer: p.issuer, subject: p.subject, clientId: p.clientId, tokenId: p.tokenId });
  if (revoked) throw forbidden('Access for this principal has been revoked.', 'principal_revoked', `revoked_${revoked.kind}`);
}
