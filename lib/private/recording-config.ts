import type { GatewayRecording } from '../recording';

/** The configuration document's `recording` section for the construct's props (validated by the shared schema at synth). */
export function recordingSection(r: GatewayRecording): Record<string, unknown> {
  return {
    ...(r.inputText !== undefined ? { inputText: r.inputText } : {}),
    ...(r.maxTextSize !== undefined ? { maxTextBytes: r.maxTextSize.toBytes() } : {}),
  };
}
