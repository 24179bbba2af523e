import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';

/** One alarm: raised when `metric` reaches `threshold` in one period. */
export interface AlarmSpec {
  /** The alarm's construct id. */
  readonly id: string;
  readonly metric: cloudwatch.IMetric;
  readonly threshold: number;
  readonly description: string;
}

/**
 * The alarms of `scope`, one per spec and in its order: one evaluation period, greater than or equal
 * to the threshold, missing data not breaching; each notifies `topic` when there is one.
 */
export function alarmsFor(scope: Construct, specs: readonly AlarmSpec[], topic?: sns.ITopic): cloudwatch.Alarm[] {
  return specs.map(({ id, metric, threshold, description }) => {
    const alarm = new cloudwatch.Alarm(scope, id, {
      metric,
      threshold,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: description,
    });
    if (topic) alarm.addAlarmAction(new cwActions.SnsAction(topic));
    return alarm;
  });
}
