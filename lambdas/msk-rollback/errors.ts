/**
 * Errors the workflow's states raise by name (Step Functions matches `Catch` and reports `Error` by the
 * error's name), each listing every problem found rather than the first.
 */

/** Base of errors that list problems. */
export class ProblemsError extends Error {
  constructor(
    name: string,
    what: string,
    readonly problems: readonly string[],
  ) {
    super(
      `${what} (${problems.length} ${problems.length === 1 ? 'problem' : 'problems'}): ${problems.join('; ')}`,
    );
    this.name = name;
  }
}

/** The execution input is invalid. */
export class InvalidInputError extends ProblemsError {
  constructor(problems: readonly string[]) {
    super('InvalidInput', 'invalid execution input', problems);
  }
}

/** A cluster is missing, not active, not reachable, or another flow races the target. */
export class ClusterValidationError extends ProblemsError {
  constructor(problems: readonly string[]) {
    super('ClusterValidationFailed', 'clusters are not ready for this rollback', problems);
  }
}

/** The topic patterns select no topic of the source. */
export class NoMatchingTopicsError extends ProblemsError {
  constructor(problems: readonly string[]) {
    super('NoMatchingTopics', 'the topic patterns select nothing to replicate', problems);
  }
}
