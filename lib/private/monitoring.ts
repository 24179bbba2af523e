import { Duration } from 'aws-cdk-lib';
import type * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { METRIC, METRIC_DIMENSION_SERVICE, METRICS_NAMESPACE } from '../../shared/contract';
import { alarmsFor, type AlarmSpec } from './alarms';

export interface GatewayMonitoringProps {
  /** The Powertools service name the proxy publishes its metrics under. */
  readonly serviceName: string;
  readonly proxyFunction: lambda.IFunction;
  readonly edgeRecorderDeadLetterQueue: sqs.IQueue;
  /** The approval workflow, when there is one. */
  readonly approvalStateMachine?: sfn.IStateMachine;
  readonly api: apigwv2.IHttpApi;
  readonly alarms: boolean;
  readonly dashboard: boolean;
  readonly alarmTopic?: sns.ITopic;
  /** Per-principal rate limits are configured: alarm on their store's errors and on daily budget warnings. */
  readonly rateLimits?: boolean;
}

/** Share of requests refused by per-principal limits (percent, over 5 minutes) that raises the throttled-rate alarm. */
export const THROTTLED_RATE_ALARM_PERCENT = 10;

/** The gateway's metrics (EMF from the proxy, namespace `embedgate`), alarms and dashboard. */
export class GatewayMonitoring extends Construct {
  public readonly alarms: cloudwatch.Alarm[] = [];
  public readonly dashboard?: cloudwatch.Dashboard;

  constructor(
    scope: Construct,
    id: string,
    private readonly props: GatewayMonitoringProps,
  ) {
    super(scope, id);
    if (props.alarms) this.alarms.push(...alarmsFor(this, this.alarmSpecs(), props.alarmTopic));
    if (props.dashboard) {
      this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', { defaultInterval: Duration.hours(3) });
      this.dashboard.addWidgets(
        new cloudwatch.GraphWidget({
          title: 'Requests by outcome',
          left: [METRIC.requests, METRIC.allowed, METRIC.denied, METRIC.invalid, METRIC.errors].map((n) =>
            this.metric(n, { statistic: 'Sum', label: n }),
          ),
          width: 12,
        }),
        new cloudwatch.GraphWidget({
          title: 'Latency (ms)',
          left: [
            this.metric(METRIC.gatewayLatency, { statistic: 'p50', label: 'gateway p50' }),
            this.metric(METRIC.gatewayLatency, { statistic: 'p99', label: 'gateway p99' }),
          ],
          right: [
            this.metric(METRIC.upstreamLatency, { statistic: 'p50', label: 'upstream p50' }),
            this.metric(METRIC.upstreamLatency, { statistic: 'p99', label: 'upstream p99' }),
          ],
          width: 12,
        }),
        new cloudwatch.GraphWidget({
          title: 'Proxy function',
          left: [props.proxyFunction.metricInvocations(), props.proxyFunction.metricErrors(), props.proxyFunction.metricThrottles()],
          right: [props.proxyFunction.metricDuration({ statistic: 'p99' })],
          width: 12,
        }),
        new cloudwatch.GraphWidget({
          title: 'Requests per rule and model',
          left: [this.byRuleAndModel(METRIC.requests, 'Requests')],
          width: 12,
        }),
        new cloudwatch.GraphWidget({
          title: 'Throttled (429 limits) per rule and model',
          left: [this.byRuleAndModel(METRIC.throttled, 'Throttled')],
          right: [this.throttledRate()],
          width: 12,
        }),
        new cloudwatch.GraphWidget({
          title: 'Tokens per rule and model',
          left: [this.byRuleAndModel(METRIC.tokens, 'Tokens')],
          width: 12,
        }),
        new cloudwatch.GraphWidget({
          title: 'Archive and masking',
          left: [this.metric(METRIC.archiveErrors, { statistic: 'Sum', label: 'records refused' })],
          right: [this.metric(METRIC.maskedEntities, { statistic: 'Sum', label: 'sensitive values masked' })],
          width: 12,
        }),
      );
    }
  }

  /** The gateway's alarms, in the order they are created. */
  private alarmSpecs(): AlarmSpec[] {
    const { props } = this;
    const sum = (metricName: string) => this.metric(metricName, { statistic: 'Sum' });
    const fiveMinutes = { period: Duration.minutes(5) };
    return [
      {
        id: 'ArchiveErrors',
        metric: sum(METRIC.archiveErrors),
        threshold: 1,
        description: 'Session records could not be archived (fail-closed: clients got 503).',
      },
      {
        id: 'GatewayErrors',
        metric: sum(METRIC.errors),
        threshold: 10,
        description: 'Requests failed with 429/5xx (upstream failures or gateway errors).',
      },
      {
        id: 'EdgeRecordsLost',
        metric: props.edgeRecorderDeadLetterQueue.metricApproximateNumberOfMessagesVisible(fiveMinutes),
        threshold: 1,
        description: 'Access-log entries the edge recorder could not archive are waiting in its dead-letter queue.',
      },
      {
        id: 'ProxyFunctionErrors',
        metric: props.proxyFunction.metricErrors(fiveMinutes),
        threshold: 1,
        description: 'The proxy function crashed (unhandled errors).',
      },
      {
        id: 'ProxyThrottles',
        metric: props.proxyFunction.metricThrottles(fiveMinutes),
        threshold: 1,
        description: 'The proxy function was throttled: raise its concurrency.',
      },
      ...(props.approvalStateMachine
        ? [
            {
              id: 'ApprovalExecutionsFailed',
              metric: props.approvalStateMachine.metricFailed({ ...fiveMinutes, statistic: 'Sum' }),
              threshold: 1,
              description:
                'An approval workflow execution failed: its approval stays pending until its deadline, and reviewers may not have been notified.',
            },
          ]
        : []),
      ...(props.rateLimits
        ? [
            {
              id: 'ThrottledRate',
              metric: this.throttledRate(),
              threshold: THROTTLED_RATE_ALARM_PERCENT,
              description: `More than ${THROTTLED_RATE_ALARM_PERCENT} % of requests were refused by per-principal rate limits or quotas (429).`,
            },
            {
              id: 'LimitStoreErrors',
              metric: sum(METRIC.limitStoreErrors),
              threshold: 1,
              description:
                'The rate-limit counter store (usage table) failed: requests were refused with 503 (fail closed) or passed uncounted (fail open).',
            },
            {
              id: 'TokenBudgetWarnings',
              metric: sum(METRIC.tokenBudgetWarnings),
              threshold: 1,
              description: "A principal used more than its rule's budgetWarningPercent (80 % by default) of its daily token budget.",
            },
          ]
        : []),
      {
        id: 'GatewayLatencyP99',
        metric: this.metric(METRIC.gatewayLatency, { statistic: 'p99' }),
        threshold: 50,
        description: "The gateway's own p99 time exceeds 50 ms.",
      },
    ];
  }

  /** Percentage of requests refused by per-principal limits (429 `rate_limit_exceeded` / `quota_exceeded`), per 5 minutes. */
  public throttledRate(): cloudwatch.MathExpression {
    return new cloudwatch.MathExpression({
      expression: '100 * throttled / MAX([requests, 1])',
      usingMetrics: {
        throttled: this.metric(METRIC.throttled, { statistic: 'Sum' }),
        requests: this.metric(METRIC.requests, { statistic: 'Sum' }),
      },
      label: 'throttled %',
      period: Duration.minutes(5),
    });
  }

  /** One line per rule and model: a search over the proxy's `service, rule, model` dimension set (bounded by the configuration). */
  private byRuleAndModel(metricName: string, label: string): cloudwatch.MathExpression {
    return new cloudwatch.MathExpression({
      expression: `SEARCH('{embedgate,service,rule,model} MetricName="${metricName}" service="${this.props.serviceName}"', 'Sum', 300)`,
      label,
      period: Duration.minutes(5),
    });
  }

  /** A metric the proxy publishes (namespace `embedgate`, dimension `service`). */
  public metric(metricName: string, props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: METRICS_NAMESPACE,
      metricName,
      dimensionsMap: { [METRIC_DIMENSION_SERVICE]: this.props.serviceName },
      period: Duration.minutes(5),
      ...props,
    });
  }
}
