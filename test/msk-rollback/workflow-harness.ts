/**
 * Renders the rollback workflow to ASL (through a real CDK synth: the definition string of the template,
 * with CloudFormation intrinsics resolved to fixed values) and runs it with aws-local-stepfunctions, every
 * Task state overridden by a local handler.
 */
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { StateMachine } from 'aws-local-stepfunctions';

/** An execution event as aws-local-stepfunctions logs it (the package does not export the type). */
export interface EventLog {
  readonly type: string;
  readonly state?: { readonly name: string };
}

import { buildRollbackDefinition, type RollbackFunctions } from '../../lib/msk-rollback/workflow.ts';

export const REGION = 'eu-west-1';
export const ACCOUNT = '111111111111';
export const CLUSTER_ARNS = [
  `arn:aws:kafka:${REGION}:${ACCOUNT}:cluster/orders-v2/1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d-2`,
  `arn:aws:kafka:${REGION}:${ACCOUNT}:cluster/orders-v3/6d5c4b3a-2f1e-0d9c-8b7a-6f5e4d3c2b1a-3`,
];
export const STATE_MACHINE_ARN = `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:ObservatoryMskRollback`;
export const EXECUTION_NAME = 'orders-to-v3-run-1';
export const EXECUTION_ARN = `arn:aws:states:${REGION}:${ACCOUNT}:execution:ObservatoryMskRollback:${EXECUTION_NAME}`;
export const TASK_TOKEN = 'AQB8AAAAKgAAAAMAAAAAAAAAAQ+token+for+tests==';

/** Resolves the CloudFormation intrinsics a definition string uses to fixed strings. */
export function resolveIntrinsics(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(resolveIntrinsics);
  if (value === null || typeof value !== 'object') return value;
  const o = value as Record<string, unknown>;
  if ('Fn::Join' in o) {
    const [sep, parts] = o['Fn::Join'] as [string, unknown[]];
    return parts.map((p) => String(resolveIntrinsics(p))).join(sep);
  }
  if ('Ref' in o) {
    const ref = o.Ref as string;
    const pseudo: Record<string, string> = {
      'AWS::Partition': 'aws',
      'AWS::Region': REGION,
      'AWS::AccountId': ACCOUNT,
      'AWS::URLSuffix': 'amazonaws.com',
    };
    return pseudo[ref] ?? `ref-${ref}`;
  }
  if ('Fn::GetAtt' in o) {
    const [id, attr] = o['Fn::GetAtt'] as [string, string];
    return `arn:aws:ecs:${REGION}:${ACCOUNT}:${id.toLowerCase()}/${attr.toLowerCase()}`;
  }
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, resolveIntrinsics(v)]));
}

/** Builds the workflow in a throwaway stack and returns its ASL definition as deployed. */
export function renderWorkflowAsl(): Record<string, unknown> {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'WorkflowUnderTest', { env: { account: ACCOUNT, region: REGION } });
  const vpc = ec2.Vpc.fromVpcAttributes(stack, 'Vpc', {
    vpcId: 'vpc-0a1b2c3d4e5f60001',
    availabilityZones: ['eu-west-1a'],
    privateSubnetIds: ['subnet-0a1b2c3d4e5f61001'],
  });
  const cluster = new ecs.Cluster(stack, 'Cluster', { vpc });
  const taskDefinition = new ecs.FargateTaskDefinition(stack, 'Task', { cpu: 1024, memoryLimitMiB: 4096 });
  taskDefinition.addContainer('mm2', {
    image: ecs.ContainerImage.fromRegistry('example/mm2:1'),
    essential: true,
  });
  taskDefinition.addContainer('adot-collector', { image: ecs.ContainerImage.fromRegistry('example/adot:1') });
  const f = (name: string) =>
    lambda.Function.fromFunctionArn(stack, name, `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${name}`);
  const functions: RollbackFunctions = {
    validateInput: f('ValidateInput'),
    validateClusters: f('ValidateClusters'),
    discoverTopics: f('DiscoverTopics'),
    renderConfig: f('RenderConfig'),
    pollReplication: f('PollReplication'),
    requestApproval: f('RequestApproval'),
    stopReplication: f('StopReplication'),
    verifyOffsets: f('VerifyOffsets'),
  };
  const definition = buildRollbackDefinition(stack, {
    functions,
    cluster,
    taskDefinition,
    containers: { mm2: 'mm2', collector: 'adot-collector' },
    subnetIds: ['subnet-0a1b2c3d4e5f61001', 'subnet-0a1b2c3d4e5f61002'],
    securityGroupIds: ['sg-0a1b2c3d4e5f65001'],
    kafkaClusterArns: CLUSTER_ARNS,
  });
  new sfn.StateMachine(stack, 'StateMachine', {
    definitionBody: sfn.DefinitionBody.fromChainable(definition),
  });
  const template = Template.fromStack(stack).toJSON() as {
    Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
  };
  const sm = Object.values(template.Resources).find((r) => r.Type === 'AWS::StepFunctions::StateMachine');
  if (!sm) throw new Error('no state machine in the template');
  return JSON.parse(String(resolveIntrinsics(sm.Properties.DefinitionString))) as Record<string, unknown>;
}

/** A local stand-in of a Task state: gets the state's effective input, returns its result or throws. */
export type TaskHandler = (input: Record<string, unknown>) => unknown | Promise<unknown>;

/** An error with a Step Functions error name. */
export function stateError(name: string, cause: string): Error {
  const err = new Error(cause);
  err.name = name;
  return err;
}

/** What a local run produced. */
export interface RunResult {
  readonly output?: unknown;
  /** Error name and cause when the execution failed. */
  readonly error?: { name: string; cause: string };
  /** States entered, in order. */
  readonly entered: string[];
  readonly events: EventLog[];
}

/**
 * Runs the definition locally.
 * @param definition ASL from {@link renderWorkflowAsl}
 * @param input execution input
 * @param handlers a handler for every Task state (a missing one fails the test: the run would call AWS)
 */
export async function runWorkflow(
  definition: Record<string, unknown>,
  input: unknown,
  handlers: Record<string, TaskHandler>,
): Promise<RunResult> {
  const states = collectStates(definition);
  const missing = states.filter((s) => s.type === 'Task' && !(s.name in handlers)).map((s) => s.name);
  if (missing.length > 0) throw new Error(`no local handler for task states: ${missing.join(', ')}`);
  const machine = new StateMachine(definition as never, {
    validationOptions: { checkArn: true, checkPaths: true },
  });
  const waits = Object.fromEntries(states.filter((s) => s.type === 'Wait').map((s) => [s.name, 0]));
  const retries = Object.fromEntries(states.filter((s) => s.retry).map((s) => [s.name, 0]));
  const execution = machine.run(input as never, {
    overrides: {
      taskResourceLocalHandlers: handlers as never,
      waitTimeOverrides: waits,
      retryIntervalOverrides: retries,
    },
    context: {
      Execution: { Id: EXECUTION_ARN, Name: EXECUTION_NAME },
      StateMachine: { Id: STATE_MACHINE_ARN, Name: 'ObservatoryMskRollback' },
      Task: { Token: TASK_TOKEN },
    },
  });
  const events: EventLog[] = [];
  const collecting = (async () => {
    for await (const e of execution.eventLogs) events.push(e as EventLog);
  })();
  let output: unknown;
  let error: RunResult['error'];
  try {
    output = await execution.result;
  } catch (err) {
    const cause = (err as Error & { cause?: Error }).cause ?? (err as Error);
    error = { name: cause.name, cause: cause.message };
  }
  await collecting;
  const entered = events.flatMap((e) => (e.type === 'StateEntered' && e.state ? [e.state.name] : []));
  return { output, error, entered, events };
}

/** Every state of a definition, branches included. */
export function collectStates(
  definition: Record<string, unknown>,
): { name: string; type: string; retry: boolean }[] {
  const out: { name: string; type: string; retry: boolean }[] = [];
  const walk = (d: { States?: Record<string, Record<string, unknown>> }) => {
    for (const [name, s] of Object.entries(d.States ?? {})) {
      out.push({ name, type: String(s.Type), retry: Array.isArray(s.Retry) });
      for (const b of (s.Branches as object[] | undefined) ?? []) walk(b as never);
      if (s.ItemProcessor) walk(s.ItemProcessor as never);
    }
  };
  walk(definition as never);
  return out;
}
