import type { GatewayMasking } from '../masking';

/**
 * The configuration document's `masking` section for the construct's props (the shared schema
 * validates it at synth, with messages that name the bad value). `pseudonymKeyArn` is the secret
 * holding the HMAC key, when one is given or created.
 */
export function maskingConfig(masking: GatewayMasking, pseudonymKeyArn: string | undefined): Record<string, unknown> {
  if (!masking.comprehend) {
    const set = (
      ['comprehendFailOpen', 'comprehendLanguage', 'comprehendMinScore', 'comprehendEntityTypes', 'comprehendMaxConcurrency'] as const
    ).filter((k) => masking[k] !== undefined);
    if (set.length > 0)
      throw new Error(
        `masking.${set.join(', masking.')} ha${set.length > 1 ? 've' : 's'} no effect without comprehend: true; set comprehend: true or remove ${set.length > 1 ? 'them' : 'it'}`,
      );
  }
  const comprehend = masking.comprehend
    ? {
        enabled: true,
        failMode: masking.comprehendFailOpen ? 'open' : 'closed',
        ...(masking.comprehendLanguage !== undefined ? { languageCode: masking.comprehendLanguage } : {}),
        ...(masking.comprehendMinScore !== undefined ? { minScore: masking.comprehendMinScore } : {}),
        ...(masking.comprehendEntityTypes !== undefined ? { entityTypes: masking.comprehendEntityTypes } : {}),
        ...(masking.comprehendMaxConcurrency !== undefined ? { maxConcurrency: masking.comprehendMaxConcurrency } : {}),
      }
    : undefined;
  return {
    enabled: true,
    strategies: masking.strategies ?? {},
    ...(pseudonymKeyArn ? { pseudonymKey: { source: 'secretsManager', secretId: pseudonymKeyArn } } : {}),
    ...(masking.customDetectors ? { customDetectors: masking.customDetectors } : {}),
    ...(masking.disabledDetectors ? { disabledDetectors: masking.disabledDetectors } : {}),
    ...(masking.phoneRegions ? { phoneRegions: masking.phoneRegions } : {}),
    ...(masking.pseudonymLength !== undefined ? { pseudonymLength: masking.pseudonymLength } : {}),
    ...(masking.maxScanChars !== undefined ? { maxScanChars: masking.maxScanChars } : {}),
    ...(comprehend ? { comprehend } : {}),
    tokenInputs: masking.allowTokenInputs ? 'allow' : 'refuse',
    ...(masking.storeInputText !== undefined ? { storeInputText: masking.storeInputText } : {}),
  };
}
