import { createHash } from 'node:crypto';
import { GetPublicKeyCommand, SignCommand, type KMSClient } from '@aws-sdk/client-kms';
import { publicKeySha256, parsePublicKey } from '../../core/audit/digest';
import { DIGEST_SIGNING_ALGORITHM, type DigestSigner } from '../../core/audit/ports';

/**
 * Signs digests with an asymmetric KMS key (`ECC_NIST_P256`, `SIGN_VERIFY`): KMS `Sign` with
 * `ECDSA_SHA_256` over the SHA-256 of the message (`MessageType: DIGEST`, so digests of any size
 * can be signed), which gives the same DER signature as signing the message itself. The public
 * key is fetched once (`GetPublicKey`) for its fingerprint.
 */
export class KmsSigner implements DigestSigner {
  private described?: Promise<{ keyId: string; publicKeySha256: string }>;

  constructor(
    private readonly client: KMSClient,
    private readonly keyId: string,
  ) {
    if (!keyId) throw new Error('KmsSigner: keyId is required');
  }

  describe(): Promise<{ keyId: string; publicKeySha256: string }> {
    this.described ??= (async () => {
      const res = await this.client.send(new GetPublicKeyCommand({ KeyId: this.keyId }));
      if (res.KeyUsage !== 'SIGN_VERIFY' || !res.SigningAlgorithms?.includes(DIGEST_SIGNING_ALGORITHM) || !res.PublicKey) {
        throw new Error(
          `KMS key ${this.keyId} cannot sign with ${DIGEST_SIGNING_ALGORITHM} (key spec ${res.KeySpec}, usage ${res.KeyUsage}); use an ECC_NIST_P256 SIGN_VERIFY key`,
        );
      }
      return { keyId: res.KeyId ?? this.keyId, publicKeySha256: publicKeySha256(parsePublicKey(res.PublicKey)) };
    })();
    this.described.catch(() => {
      this.described = undefined;
    });
    return this.described;
  }

  async sign(message: Uint8Array): Promise<Uint8Array> {
    const res = await this.client.send(
      new SignCommand({
        KeyId: this.keyId,
        Message: createHash('sha256').update(message).digest(),
        MessageType: 'DIGEST',
        SigningAlgorithm: DIGEST_SIGNING_ALGORITHM,
      }),
    );
    if (!res.Signature) throw new Error(`KMS Sign with ${this.keyId} returned no signature`);
    return res.Signature;
  }
}
