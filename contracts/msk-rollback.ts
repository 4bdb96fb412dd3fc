/**
 * Names shared by the MSK rollback infrastructure (IAM resources) and its handlers (the groups they
 * create): one definition, imported by both sides.
 */

/** Prefix of the throwaway consumer groups the read-only functions create to read a topic's records. */
export const READ_GROUP_PREFIX = 'observatory-read-';
