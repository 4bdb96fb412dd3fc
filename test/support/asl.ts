/**
 * Renders a CDK state machine's definition to plain ASL JSON for asl-validator and
 * aws-local-stepfunctions, resolving the intrinsic functions CloudFormation would.
 */
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';

/** Fake physical values for one stack's references. */
export interface ResolveContext {
  readonly account: string;
  readonly region: string;
  /** Physical IDs by logical ID (e.g. a function's name); default: the logical ID. */
  readonly physical?: Record<string, string>;
}

function resolveIntrinsic(value: unknown, ctx: ResolveContext, types: Record<string, string>): unknown {
  if (Array.isArray(value)) return value.map((v) => resolveIntrinsic(v, ctx, types));
  if (value === null || typeof value !== 'object') return value;
  const obj = value as Record<string, unknown>;
  if ('Fn::Join' in obj) {
    const [sep, parts] = obj['Fn::Join'] as [string, unknown[]];
    return parts.map((p) => String(resolveIntrinsic(p, ctx, types))).join(sep);
  }
  if ('Ref' in obj) {
    const ref = obj.Ref as string;
    if (ref === 'AWS::Partition') return 'aws';
    if (ref === 'AWS::Region') return ctx.region;
    if (ref === 'AWS::AccountId') return ctx.account;
    if (ref === 'AWS::URLSuffix') return 'amazonaws.com';
    return ctx.physical?.[ref] ?? physicalArn(ref, types[ref], ctx);
  }
  if ('Fn::GetAtt' in obj) {
    const [id, attr] = obj['Fn::GetAtt'] as [string, string];
    if (attr === 'Arn') return physicalArn(id, types[id], ctx);
    return `${id}.${attr}`;
  }
  return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, resolveIntrinsic(v, ctx, types)]));
}

function physicalArn(id: string, type: string | undefined, ctx: ResolveContext): string {
  const name = ctx.physical?.[id] ?? id;
  switch (type) {
    case 'AWS::Lambda::Function':
      return `arn:aws:lambda:${ctx.region}:${ctx.account}:function:${name}`;
    case 'AWS::SNS::Topic':
      return `arn:aws:sns:${ctx.region}:${ctx.account}:${name}`;
    case 'AWS::SQS::Queue':
      return `https://sqs.${ctx.region}.amazonaws.com/${ctx.account}/${name}`;
    case 'AWS::ECS::Cluster':
      return `arn:aws:ecs:${ctx.region}:${ctx.account}:cluster/${name}`;
    case 'AWS::ECS::TaskDefinition':
      return `arn:aws:ecs:${ctx.region}:${ctx.account}:task-definition/${name}:1`;
    case 'AWS::S3::Bucket':
      return `arn:aws:s3:::${name.toLowerCase()}`;
    default:
      return name;
  }
}

/**
 * The state machine's definition as ASL, with every reference resolved to a fake but well-formed value.
 * @param stateMachine a state machine in a stack with a concrete env
 */
export function renderAsl(
  stateMachine: sfn.StateMachine,
  ctx?: Partial<ResolveContext>,
): Record<string, unknown> & { States: Record<string, any> } {
  const stack = Stack.of(stateMachine);
  const template = Template.fromStack(stack).toJSON() as {
    Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
  };
  const types = Object.fromEntries(Object.entries(template.Resources).map(([id, r]) => [id, r.Type]));
  const id = stack.getLogicalId(stateMachine.node.defaultChild as import('aws-cdk-lib').CfnElement);
  const definition = template.Resources[id]!.Properties.DefinitionString;
  const full: ResolveContext = {
    account: ctx?.account ?? stack.account,
    region: ctx?.region ?? stack.region,
    physical: ctx?.physical,
  };
  const text =
    typeof definition === 'string' ? definition : String(resolveIntrinsic(definition, full, types));
  return JSON.parse(text);
}
