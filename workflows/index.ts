/** The workflow bundle's entry: every workflow the worker registers. */
export { copyTable, progressQuery } from './copy-table.js';
export { copyTables } from './copy-tables.js';
export { copyChunkBatch } from './copy-chunk-batch.js';
