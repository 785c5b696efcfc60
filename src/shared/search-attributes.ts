/**
 * Custom search attributes pgferry sets on every copy so the UI can filter a table's history.
 * `pgferry dev` registers them; a production namespace needs them registered once
 * (`temporal operator search-attribute create`). Pure module.
 */
import { defineSearchAttributeKey, SearchAttributeType, type TypedSearchAttributes } from '@temporalio/common';
import type { CopyTableInput } from './copy-spec.js';
import { formatTable } from './table-name.js';

export const SOURCE_ATTRIBUTE = defineSearchAttributeKey('PgferrySource', SearchAttributeType.KEYWORD);
export const TARGET_ATTRIBUTE = defineSearchAttributeKey('PgferryTarget', SearchAttributeType.KEYWORD);
export const TABLE_ATTRIBUTE = defineSearchAttributeKey('PgferryTable', SearchAttributeType.KEYWORD);
export const MODE_ATTRIBUTE = defineSearchAttributeKey('PgferryMode', SearchAttributeType.KEYWORD);

export const PGFERRY_SEARCH_ATTRIBUTES = [SOURCE_ATTRIBUTE, TARGET_ATTRIBUTE, TABLE_ATTRIBUTE, MODE_ATTRIBUTE];

/** The search attributes of one copy: source, target, target table and mode. */
export function copySearchAttributes(input: CopyTableInput) {
  const target = input.targetTable ?? input.table;
  return [
    { key: SOURCE_ATTRIBUTE, value: input.source },
    { key: TARGET_ATTRIBUTE, value: input.target },
    { key: TABLE_ATTRIBUTE, value: formatTable(target) },
    { key: MODE_ATTRIBUTE, value: input.mode },
  ] satisfies ConstructorParameters<typeof TypedSearchAttributes>[0];
}
