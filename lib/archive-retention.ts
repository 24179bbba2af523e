import type { Duration } from 'aws-cdk-lib';

/** S3 Object Lock retention modes. */
export enum ArchiveRetentionMode {
  /**
   * No one, the account root user included, can overwrite or delete a locked record version, or
   * shorten its retention, until the retention period has passed.
   */
  COMPLIANCE = 'COMPLIANCE',
  /**
   * Locked record versions can be deleted, or their retention shortened, only by a principal
   * granted `s3:BypassGovernanceRetention` who asks for the bypass explicitly. `SessionArchive`
   * grants that to no one and denies it in the bucket policy; lifting that takes a deliberate
   * change of the bucket policy first.
   */
  GOVERNANCE = 'GOVERNANCE',
}

/** Longest default retention S3 Object Lock accepts: 100 years. */
const MAX_DAYS = 36_500;

/**
 * How long every session record is locked against deletion and overwrite (S3 Object Lock
 * default retention of the archive bucket).
 *
 * @example
 * ArchiveRetention.compliance(Duration.days(2555)) // 7 years
 */
export class ArchiveRetention {
  /**
   * Compliance mode: nobody can delete or overwrite a record version, or shorten its retention,
   * before `duration` has passed. Use this for audit evidence.
   *
   * @param duration whole days, at least 1 day, at most 100 years
   */
  public static compliance(duration: Duration): ArchiveRetention {
    return new ArchiveRetention(ArchiveRetentionMode.COMPLIANCE, duration);
  }

  /**
   * Governance mode: like compliance, except that a principal with `s3:BypassGovernanceRetention`
   * could lift it. Useful to try retention settings before committing to compliance mode.
   *
   * @param duration whole days, at least 1 day, at most 100 years
   */
  public static governance(duration: Duration): ArchiveRetention {
    return new ArchiveRetention(ArchiveRetentionMode.GOVERNANCE, duration);
  }

  /** The Object Lock mode. */
  public readonly mode: ArchiveRetentionMode;

  /** How long each record version is locked from the moment it is written. */
  public readonly duration: Duration;

  private constructor(mode: ArchiveRetentionMode, duration: Duration) {
    if (!duration.isUnresolved()) {
      const days = duration.toDays({ integral: false });
      const human = duration.toHumanString();
      const given = human === `${days} days` ? human : `${human} (${days} days)`;
      const factory = mode === ArchiveRetentionMode.COMPLIANCE ? 'compliance' : 'governance';
      if (!Number.isInteger(days)) {
        throw new Error(
          `Archive retention must be a whole number of days (S3 Object Lock counts days), got ${given}. ` +
            `Use ArchiveRetention.${factory}(Duration.days(${Math.max(1, Math.ceil(days))})).`,
        );
      }
      if (days < 1) {
        throw new Error(
          `Archive retention must be at least 1 day, got ${given}. Use ArchiveRetention.${factory}(Duration.days(n)) with n >= 1.`,
        );
      }
      if (days > MAX_DAYS) {
        throw new Error(
          `Archive retention must be at most 100 years (${MAX_DAYS} days), got ${given}. ` +
            `Use ArchiveRetention.${factory}(Duration.days(${MAX_DAYS})) or less.`,
        );
      }
    }
    this.mode = mode;
    this.duration = duration;
  }
}
