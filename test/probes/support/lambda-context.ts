/**
 * A Lambda `Context` for invoking a handler in-process: the function's name, and a remaining time that
 * runs down from the call like the runtime's.
 */
import type { Context } from 'aws-lambda';

/**
 * @param functionName the deployed function's name (in the ARN and the log group)
 * @param remainingMs time left at the call
 */
export function lambdaContext(functionName: string, remainingMs: number): Context {
  const end = Date.now() + remainingMs;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:eu-west-1:123456789012:function:${functionName}`,
    memoryLimitInMB: '256',
    awsRequestId: `req-${Math.random().toString(16).slice(2)}`,
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: '2026/01/01/[$LATEST]0123456789abcdef',
    getRemainingTimeInMillis: () => end - Date.now(),
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}
