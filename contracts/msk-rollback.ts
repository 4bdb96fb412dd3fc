/**
 * Names shared by the MSK rollback infrastructure (IAM resources) and its handlers (the groups they
 * create): one definition, imported by both sides.
 */

/** Prefix of the throwaway consumer groups the read-only functions create to read a topic's records. */
export const READ_GROUP_PREFIX = 'observatory-read-';

/** Output of the MSK rollback stack that holds its state machine's ARN (`observatory rollback start` reads it). */
export const STATE_MACHINE_ARN_OUTPUT = 'StateMachineArn';
