/**
 * AWS list prices the sweep-cost benchmark (bench/sweep-costs.ts) turns request counts into
 * dollars with: us-east-1, on-demand, no free tier, no Savings Plans, x86 Lambda.
 *
 * The figures are the published list prices as this file states them, with the page each comes
 * from and the date it was written down (PRICES_AS_OF). They were not re-read from the live pages
 * by the benchmark: a price change there needs an edit here, and every result JSON carries the
 * table it was computed with, so an old result stays explainable.
 */

/** When the figures below were written down (not fetched: see the file header). */
export const PRICES_AS_OF = '2026-12-04';

/** Region every figure is for. */
export const PRICES_REGION = 'us-east-1';

/** One list price: dollars per `per` units of `unit`, and where it is published. */
export interface ListPrice {
  readonly usd: number;
  readonly per: number;
  readonly unit: string;
  readonly source: string;
  /** What the figure covers, and anything the page says that changes how it applies. */
  readonly note?: string;
}

/**
 * The price table. Keys are stable names the benchmark's JSON and docs refer to.
 *
 * @example
 * const perKmsRequest = AWS_PRICES.kmsRequest.usd / AWS_PRICES.kmsRequest.per; // 0.000003
 */
export const AWS_PRICES = Object.freeze({
  s3Tier1: {
    usd: 0.005,
    per: 1_000,
    unit: 'S3 Standard PUT, COPY, POST, LIST requests',
    source: 'https://aws.amazon.com/s3/pricing/ (Requests & data retrievals, S3 Standard)',
    note: 'multipart CreateMultipartUpload / UploadPart / UploadPartCopy / CompleteMultipartUpload are billed as PUT',
  },
  s3Tier2: {
    usd: 0.0004,
    per: 1_000,
    unit: 'S3 Standard GET, SELECT and all other requests (HEAD included)',
    source: 'https://aws.amazon.com/s3/pricing/ (Requests & data retrievals, S3 Standard)',
    note: 'DELETE and CANCEL are free; data transfer to Lambda in the same Region is free',
  },
  kmsRequest: {
    usd: 0.03,
    per: 10_000,
    unit: 'KMS symmetric-key API requests',
    source: 'https://aws.amazon.com/kms/pricing/',
    note: 'after the 20,000 free requests a month; key storage ($1 per key-version month) is not a per-record cost',
  },
  dynamoDbWrite: {
    usd: 0.625,
    per: 1_000_000,
    unit: 'DynamoDB on-demand write request units (Standard table class)',
    source: 'https://aws.amazon.com/dynamodb/pricing/on-demand/',
    note: 'price after the 50 % on-demand cut of 2024-11-01; 1 WRU per 1 KB written, per item, rounded up',
  },
  dynamoDbRead: {
    usd: 0.125,
    per: 1_000_000,
    unit: 'DynamoDB on-demand read request units (Standard table class)',
    source: 'https://aws.amazon.com/dynamodb/pricing/on-demand/',
    note: '1 RRU per 4 KB strongly consistent read, 0.5 RRU eventually consistent (every GSI read)',
  },
  lambdaRequest: {
    usd: 0.2,
    per: 1_000_000,
    unit: 'Lambda requests',
    source: 'https://aws.amazon.com/lambda/pricing/',
  },
  lambdaGbSecond: {
    usd: 0.0000166667,
    per: 1,
    unit: 'Lambda GB-seconds (x86, first pricing tier)',
    source: 'https://aws.amazon.com/lambda/pricing/',
    note: 'billed per 1 ms; since 2025-08-01 the INIT phase of on-demand ZIP functions on managed runtimes is billed too',
  },
  stepFunctionsTransition: {
    usd: 0.025,
    per: 1_000,
    unit: 'Step Functions Standard state transitions',
    source: 'https://aws.amazon.com/step-functions/pricing/',
    note: 'Distributed Map child workflows of type STANDARD are billed as Standard transitions; retries count',
  },
} satisfies Record<string, ListPrice>);

/** Names of {@link AWS_PRICES}. */
export type PriceName = keyof typeof AWS_PRICES;

/**
 * Dollars for `units` of the priced unit.
 *
 * @example
 * dollars('s3Tier1', 2_000); // 0.01
 */
export function dollars(price: PriceName, units: number): number {
  const p: ListPrice = AWS_PRICES[price];
  return (units * p.usd) / p.per;
}

/**
 * The S3 price of one request, from the action the sweep-costs tally names: the first IAM action
 * the twin's request log authorized (ListObjectsV2 as `s3:ListBucket`, UploadPart as
 * `s3:PutObject`), except the operations tallied by name (`s3:HeadObject`, a GET-tier request;
 * `s3:CopyObject` and `s3:UploadPartCopy`, COPY requests). Undefined for free requests.
 *
 * @example
 * s3PriceOf('s3:ListBucket'); // 's3Tier1'
 */
export function s3PriceOf(action: string): PriceName | undefined {
  if (S3_FREE.has(action)) return undefined;
  return S3_TIER1.has(action) ? 's3Tier1' : 's3Tier2';
}

const S3_TIER1: ReadonlySet<string> = new Set([
  's3:PutObject',
  // "PUT, COPY, POST, LIST requests" (Amazon S3 pricing): a CopyObject and an UploadPartCopy are COPY requests.
  's3:CopyObject',
  's3:UploadPartCopy',
  's3:ListBucket',
  's3:ListBucketVersions',
  's3:ListBucketMultipartUploads',
  's3:ListMultipartUploadParts',
  's3:PutObjectTagging',
  's3:PutObjectRetention',
  's3:PutObjectLegalHold',
  's3:PutObjectAcl',
]);

const S3_FREE: ReadonlySet<string> = new Set(['s3:DeleteObject', 's3:DeleteObjectVersion', 's3:AbortMultipartUpload']);
