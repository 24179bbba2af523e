/**
 * The Amazon States Language definition of a state machine in a synthesized template, as plain
 * JSON: the `Fn::Join` of `DefinitionString` resolved, with `Ref` / `Fn::GetAtt` pieces replaced
 * by the ARNs CloudFormation would give them (in a fixed test account and region).
 */
export const ASL_ENV = { partition: 'aws', region: 'us-east-1', account: '123456789012' } as const;

type Resources = Record<string, { Type: string; Properties?: Record<string, unknown> }>;

/** The ASL definition (parsed) of the only (or the `logicalId`) state machine in `template`. */
export function stateMachineDefinition(template: { Resources?: Resources }, logicalId?: string): AslDefinition {
  const resources = template.Resources ?? {};
  const machines = Object.entries(resources).filter(
    ([id, r]) => r.Type === 'AWS::StepFunctions::StateMachine' && (logicalId === undefined || id === logicalId),
  );
  if (machines.length !== 1) throw new Error(`expected one state machine${logicalId ? ` ${logicalId}` : ''}, found ${machines.length}`);
  const body = machines[0]![1].Properties!.DefinitionString;
  return JSON.parse(resolve(body, resources)) as AslDefinition;
}

/** The part of ASL the tests look at. */
export interface AslDefinition {
  StartAt: string;
  TimeoutSeconds?: number;
  States: Record<string, AslState>;
}
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- ASL states have many shapes
export type AslState = { Type: string; [field: string]: any };

function resolve(value: unknown, resources: Resources): string {
  if (typeof value === 'string') return value;
  const v = value as Record<string, unknown>;
  if (Array.isArray(v['Fn::Join'])) {
    const [sep, parts] = v['Fn::Join'] as [string, unknown[]];
    return parts.map((p) => resolve(p, resources)).join(sep);
  }
  if (typeof v.Ref === 'string') return ref(v.Ref, resources);
  if (Array.isArray(v['Fn::GetAtt'])) {
    const [id, attr] = v['Fn::GetAtt'] as [string, string];
    return getAtt(id, attr, resources);
  }
  throw new Error(`cannot resolve ${JSON.stringify(value)} in a state machine definition`);
}

function ref(id: string, resources: Resources): string {
  switch (id) {
    case 'AWS::Partition':
      return ASL_ENV.partition;
    case 'AWS::Region':
      return ASL_ENV.region;
    case 'AWS::AccountId':
      return ASL_ENV.account;
    case 'AWS::URLSuffix':
      return 'amazonaws.com';
  }
  const r = resources[id];
  if (!r) throw new Error(`Ref to unknown resource ${id}`);
  switch (r.Type) {
    case 'AWS::SNS::Topic':
      return `arn:aws:sns:${ASL_ENV.region}:${ASL_ENV.account}:${id}`;
    case 'AWS::Lambda::Function':
      return id;
    default:
      return id;
  }
}

function getAtt(id: string, attr: string, resources: Resources): string {
  const r = resources[id];
  if (!r) throw new Error(`Fn::GetAtt of unknown resource ${id}`);
  if (r.Type === 'AWS::Lambda::Function' && attr === 'Arn') return `arn:aws:lambda:${ASL_ENV.region}:${ASL_ENV.account}:function:${id}`;
  if (r.Type === 'AWS::SNS::Topic' && attr === 'TopicArn') return `arn:aws:sns:${ASL_ENV.region}:${ASL_ENV.account}:${id}`;
  throw new Error(`cannot resolve Fn::GetAtt ${id}.${attr} (${r.Type})`);
}
