/**
 * Prop validation for `SessionArchive`: each message names the bad value and the fix.
 * Unresolved tokens are skipped (CloudFormation checks them at deploy time).
 */
import { Token, type Duration, type Size } from 'aws-cdk-lib';

/** Whole days of a duration, or undefined for an unresolved token. Throws unless whole and >= `min`. */
export function wholeDays(prop: string, d: Duration, min: number): number | undefined {
  if (d.isUnresolved()) return undefined;
  const days = d.toDays({ integral: false });
  if (!Number.isInteger(days) || days < min) {
    throw new Error(
      `${prop} must be a whole number of days, at least ${min}, got ${d.toHumanString()} (${days} days). ` +
        `Use Duration.days(n) with n >= ${min}.`,
    );
  }
  return days;
}

/** S3 Standard-IA needs objects at least 30 days old; Glacier IR must come 30 days after Standard-IA. */
export function checkTransitions(iaDays: number | undefined, glacierDays: number | undefined): void {
  if (iaDays !== undefined && iaDays < 30) {
    throw new Error(
      `infrequentAccessTransitionAfter must be at least 30 days (S3 moves objects to Standard-IA no sooner), got ${iaDays} days. ` +
        'Use Duration.days(30) or more.',
    );
  }
  if (iaDays !== undefined && glacierDays !== undefined && glacierDays < iaDays + 30) {
    throw new Error(
      `glacierTransitionAfter (${glacierDays} days) must be at least 30 days after infrequentAccessTransitionAfter (${iaDays} days): ` +
        `S3 keeps objects in Standard-IA for 30 days before Glacier Instant Retrieval. Use Duration.days(${iaDays + 30}) or more.`,
    );
  }
}

/** Glue database and table names Athena can query: lower-case letters, digits, underscores. */
export function checkCatalogName(prop: string, name: string): void {
  if (Token.isUnresolved(name)) return;
  if (!/^[a-z0-9_]{1,255}$/.test(name)) {
    throw new Error(
      `${prop} must be 1 to 255 lower-case letters, digits or underscores (what Athena accepts), got "${name}". ` +
        `Try "${
          name
            .toLowerCase()
            .replace(/[^a-z0-9_]+/g, '_')
            .slice(0, 255) || 'embedgate_sessions'
        }".`,
    );
  }
}

/** Athena workgroup names: 1 to 128 of letters, digits, `.`, `_`, `-`. */
export function checkWorkGroupName(name: string): void {
  if (Token.isUnresolved(name)) return;
  if (!/^[a-zA-Z0-9._-]{1,128}$/.test(name)) {
    throw new Error(
      `workGroupName must be 1 to 128 letters, digits, ".", "_" or "-", got "${name}". ` +
        `Try "${name.replace(/[^a-zA-Z0-9._-]+/g, '-').slice(0, 128) || 'embedgate-audit'}".`,
    );
  }
}

/** Athena's smallest per-query cutoff is 10 MB. */
export function cutoffBytes(size: Size): number {
  if (size.isUnresolved()) return size.toBytes();
  const bytes = size.toBytes();
  if (bytes < 10_000_000) {
    throw new Error(
      `bytesScannedCutoffPerQuery must be at least 10 MB (10,000,000 bytes), Athena's minimum, got ${bytes} bytes. ` +
        'Use Size.mebibytes(10) or more.',
    );
  }
  return bytes;
}

/** A `YYYY-MM-DD` calendar date. */
export function checkProjectionStart(date: string): void {
  if (Token.isUnresolved(date)) return;
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  const ok =
    m !== null &&
    (() => {
      const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
      return d.toISOString().slice(0, 10) === date;
    })();
  if (!ok) {
    throw new Error(
      `projectionStartDate must be a calendar date YYYY-MM-DD (the first day records can exist), got "${date}". ` +
        'Use e.g. "2026-01-01".',
    );
  }
}
