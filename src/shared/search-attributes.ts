/**
 * Custom search attributes pgferry sets on every copy so the UI can filter a table's history.
 * `pgferry dev` registers them; a production namespace needs them registered once
 * (`temporal operator search-attribute create`). Pure module.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const SOURCE_ATTRIBUTE = defineSearchAttributeKey('PgferrySource', SearchAttributeType.KEYWORD);
export const TARGET_ATTRIBUTE = defineSearchAttributeKey('PgferryTarget', SearchAttributeType.KEYWORD);
export const TABLE_ATTRIBUTE = defineSearchAttributeKey('PgferryTable', SearchAttributeType.KEYWORD);
export const MODE_ATTRIBUTE = defineSearchAttributeKey('PgferryMode', SearchAttributeType.KEYWORD);

export const PGFERRY_SEARCH_ATTRIBUTES = [SOURCE_ATTRIBUTE, TARGET_ATTRIBUTE, TABLE_ATTRIBUTE, MODE_ATTRIBUTE];
