/**
 * The index names of a DynamoDB record table (shared/adapters/aws/dynamodb-record-table.ts): the
 * adapter queries them, and the stack grants Query/Scan on exactly their ARNs.
 */

/**
 * Name of the index by (keyring, current version, id).
 *
 * @example
 * new QueryCommand({ TableName, IndexName: VERSION_INDEX, KeyConditionExpression: 'keyring = :k AND begins_with(vsk, :p)', ... });
 */
export const VERSION_INDEX = 'rekey-by-version';

/**
 * Name of the index by (keyring, origin version, id).
 *
 * @example
 * new QueryCommand({ TableName, IndexName: ORIGIN_INDEX, KeyConditionExpression: 'keyring = :k AND osk < :hi', ... });
 */
export const ORIGIN_INDEX = 'rekey-by-origin';
