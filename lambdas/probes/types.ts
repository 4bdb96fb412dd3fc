/**
 * Types shared by the probe engine, the run orchestration and the sample mapping.
 */

/**
 * Why a probe failed: a small closed set, so it can be a label value (`probe_failure_reason`).
 * The free-text detail goes to `error` and the logs.
 */
export type FailureReason =
  /** The name did not resolve (or resolved to no address of the wanted family). */
  | 'dns'
  /** Connection refused (RST to the SYN): the host is up, nothing listens on the port. */
  | 'refused'
  /** No answer within the timeout. */
  | 'timeout'
  /** Host or network unreachable (ICMP error or no route). */
  | 'unreachable'
  /** The peer reset the connection. */
  | 'reset'
  /** TLS handshake or certificate verification failed. */
  | 'tls'
  /** The certificate expires in fewer days than the target allows. */
  | 'cert_expiry'
  /** The HTTP status is not one of the expected ones. */
  | 'status'
  /** The body did not match the expected regular expression. */
  | 'body'
  /** A response header was missing or did not match. */
  | 'header'
  /** More redirects than allowed, or a redirect without a usable Location. */
  | 'redirects'
  /** The DNS answers did not contain every expected value. */
  | 'answers'
  /** The run ran out of time before this target was probed (or finished). */
  | 'deadline'
  /** Anything else; see `error`. */
  | 'error';

/** IP family of an address: 4 or 6. */
export type IpFamily = 4 | 6;
