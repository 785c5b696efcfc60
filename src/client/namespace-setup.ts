/**
 * `pgferry setup`: prepares a namespace for pgferry. Registers the search attributes every copy
 * sets (PgferrySource, PgferryTarget, PgferryTable, PgferryMode, Keyword), checks the namespace
 * exists and whether a worker polls the task queue. Also explains a copy refused because the
 * attributes are missing, instead of the server's raw INVALID_ARGUMENT.
 */
import { isGrpcServiceError, ServiceError, type Client } from '@temporalio/client';
import proto from '@temporalio/proto';
import { PGFERRY_SEARCH_ATTRIBUTES } from '../shared/search-attributes.js';

// @temporalio/proto is CommonJS: take the namespace from its default export.
const { IndexedValueType, TaskQueueType } = proto.temporal.api.enums.v1;

/** gRPC status codes (stable numbers of the gRPC spec; @grpc/grpc-js is not a direct dependency). */
const GRPC_INVALID_ARGUMENT = 3;
const GRPC_NOT_FOUND = 5;

/** The gRPC status code of an error, also when the client wrapped it in a ServiceError. */
function grpcCode(error: unknown): number | undefined {
  if (isGrpcServiceError(error)) return error.code;
  if (error instanceof ServiceError && isGrpcServiceError(error.cause)) return error.cause.code;
  return undefined;
}

/** The namespace does not exist on the server. */
export class NamespaceNotFoundError extends Error {
  override name = 'NamespaceNotFoundError';
  constructor(readonly namespace: string) {
    super(`namespace ${namespace} does not exist on this Temporal server (create it, or set TEMPORAL_NAMESPACE)`);
  }
}

/** A copy was refused because the namespace lacks pgferry's search attributes. */
export class SearchAttributesMissingError extends Error {
  override name = 'SearchAttributesMissingError';
  constructor(
    readonly namespace: string,
    readonly missing: readonly string[],
  ) {
    super(
      `namespace ${namespace} lacks pgferry's search attributes (${missing.join(', ')}): run \`pgferry setup\` once, then copy again`,
    );
  }
}

export interface SetupResult {
  namespace: string;
  /** Attributes this run registered; empty when all were there already. */
  registered: string[];
  /** Attributes that were already registered. */
  present: string[];
  taskQueue: string;
  /** Workers polling the task queue for workflow tasks right now. */
  workflowPollers: number;
}

/** The pgferry attributes the namespace does not have yet. */
export async function missingSearchAttributes(client: Client, namespace: string): Promise<string[]> {
  const { customAttributes } = await client.connection.operatorService.listSearchAttributes({ namespace });
  return PGFERRY_SEARCH_ATTRIBUTES.map((key) => key.name).filter((name) => !(name in (customAttributes ?? {})));
}

/**
 * Prepares `namespace`: registers the missing search attributes (idempotent: a second run
 * registers nothing) and counts the task queue's workflow pollers.
 * @throws NamespaceNotFoundError when the namespace does not exist (nothing is registered).
 */
export async function setupNamespace(client: Client, namespace: string, taskQueue: string): Promise<SetupResult> {
  try {
    await client.workflowService.describeNamespace({ namespace });
  } catch (error) {
    if (grpcCode(error) === GRPC_NOT_FOUND) throw new NamespaceNotFoundError(namespace);
    throw error;
  }
  const missing = await missingSearchAttributes(client, namespace);
  if (missing.length > 0) {
    await client.connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(missing.map((name) => [name, IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD])),
    });
  }
  const { pollers } = await client.workflowService.describeTaskQueue({
    namespace,
    taskQueue: { name: taskQueue },
    taskQueueType: TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
  });
  return {
    namespace,
    registered: missing,
    present: PGFERRY_SEARCH_ATTRIBUTES.map((key) => key.name).filter((name) => !missing.includes(name)),
    taskQueue,
    workflowPollers: pollers?.length ?? 0,
  };
}

/**
 * Turns a start refused with INVALID_ARGUMENT into {@link SearchAttributesMissingError} when the
 * namespace indeed lacks pgferry's attributes (asked, not read from the message); otherwise
 * returns the error unchanged.
 */
export async function explainStartFailure(client: Client, error: unknown): Promise<unknown> {
  if (grpcCode(error) !== GRPC_INVALID_ARGUMENT) return error;
  const missing = await missingSearchAttributes(client, client.options.namespace).catch(() => []);
  return missing.length > 0 ? new SearchAttributesMissingError(client.options.namespace, missing) : error;
}
