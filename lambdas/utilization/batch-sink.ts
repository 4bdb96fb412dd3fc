/**
 * Where a finished batch goes: the batch object to S3, then a claim-check message to the store queue.
 */
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { Batch } from './rows.ts';

/** The message the store function receives for each batch. */
export interface BatchMessage {
  readonly bucket: string;
  readonly key: string;
  readonly batchId: string;
}

/** Port: persists a batch and announces it. */
export interface BatchSink {
  put(batch: Batch, key: string): Promise<BatchMessage>;
}

/**
 * A sink that writes the batch JSON to S3 and sends `{bucket, key, batchId}` to SQS. The object is
 * written first, so a message never points at a missing object; a re-run overwrites the same key with
 * the same batch ID, which the store function recognises as a duplicate.
 * @param s3 S3 client of the collector account
 * @param sqs SQS client of the collector account
 * @param bucket batch bucket
 * @param queueUrl store queue URL
 */
export function s3SqsBatchSink(s3: S3Client, sqs: SQSClient, bucket: string, queueUrl: string): BatchSink {
  return {
    async put(batch, key) {
      await s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: JSON.stringify(batch),
          ContentType: 'application/json',
        }),
      );
      const message: BatchMessage = { bucket, key, batchId: batch.batchId };
      await sqs.send(
        new SendMessageCommand({
          QueueUrl: queueUrl,
          MessageBody: JSON.stringify(message),
          MessageAttributes: {
            service: { DataType: 'String', StringValue: batch.shard.service },
            accountId: { DataType: 'String', StringValue: batch.shard.accountId },
          },
        }),
      );
      return message;
    },
  };
}
