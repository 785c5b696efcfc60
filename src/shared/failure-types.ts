/**
 * The one table of failure types pgferry raises (ApplicationFailure `type`), shared by the
 * activities that throw them, the workflow's retry policies and the CLI that prints them.
 * Pure module: safe inside the workflow sandbox.
 */
export const FailureType = {
  ExportKilled: 'ExportKilled',
  ImportKilled: 'ImportKilled',
  ExportFailed: 'ExportFailed',
  ImportFailed: 'ImportFailed',
  ConnectionLost: 'ConnectionLost',
  CopyStalled: 'CopyStalled',
  TargetBusy: 'TargetBusy',
  CountMismatch: 'CountMismatch',
  SourceTableNotFound: 'SourceTableNotFound',
  PermissionDenied: 'PermissionDenied',
  AuthenticationFailed: 'AuthenticationFailed',
  DataRejected: 'DataRejected',
  SchemaMismatch: 'SchemaMismatch',
  InvalidCopySpec: 'InvalidCopySpec',
  UnknownConnection: 'UnknownConnection',
  PsqlNotFound: 'PsqlNotFound',
} as const;

export type FailureType = (typeof FailureType)[keyof typeof FailureType];

/**
 * Failures that the activity's retry policy must not retry: wrong input, missing objects,
 * credentials, rejected data; and `CountMismatch`, because recounting unchanged staging gives
 * the same answer: the workflow decides instead (one re-copy of the data, then fail).
 */
export const NON_RETRYABLE_FAILURE_TYPES: readonly FailureType[] = [
  FailureType.CountMismatch,
  FailureType.SourceTableNotFound,
  FailureType.PermissionDenied,
  FailureType.AuthenticationFailed,
  FailureType.DataRejected,
  FailureType.SchemaMismatch,
  FailureType.InvalidCopySpec,
  FailureType.UnknownConnection,
  FailureType.PsqlNotFound,
];

/** Whether a failure of this type is permanent by nature. */
export function isNonRetryable(type: string | undefined): boolean {
  return NON_RETRYABLE_FAILURE_TYPES.includes(type as FailureType);
}
