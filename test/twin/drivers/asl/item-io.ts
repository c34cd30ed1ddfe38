/**
 * A Distributed Map's S3 I/O, done AS THE STATE MACHINE'S ROLE through the twin's proxy (so the
 * authorizer judges s3:ListBucket / s3:GetObject / s3:PutObject like AWS would):
 * - ItemReader (https://docs.aws.amazon.com/step-functions/latest/dg/input-output-itemreader.html):
 *   `arn:aws:states:::s3:listObjectsV2` gives one item per object, shaped as that page documents:
 *   `{ "Etag": "\"05704fbdccb224cb01c59005bebbad28\"", "Key": "processData/images/n02085620_1073.jpg",
 *   "LastModified": 1668699881, "Size": 34910, "StorageClass": "STANDARD" }` (AWS's spelling
 *   `Etag`, ETag's quotes kept, LastModified in epoch seconds); `arn:aws:states:::s3:getObject`
 *   reads a JSON array or JSON Lines file (ReaderConfig.InputType).
 * - ResultWriter (https://docs.aws.amazon.com/step-functions/latest/dg/input-output-resultwriter.html):
 *   PutObject of manifest.json and the result files.
 */
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { TwinWorld } from '../../world';
import { StatesError } from './errors';
import { applyTemplate, readPath } from './json-path';
import type { AslState } from './interpreter';
import type { RunContext } from './types';

/** How the map reaches S3: the proxy's URL and, for tests, the listing page size. */
export interface S3Access {
  readonly world: TwinWorld;
  readonly proxyUrl: string;
  /** ListObjectsV2 MaxKeys per page (AWS pages by 1000); the reader follows every continuation token. */
  readonly listPageSize?: number;
}

/** An S3 client signing as the state machine's role, pointed at the twin's proxy. */
export function roleS3Client(access: S3Access, roleArn: string): S3Client {
  const role = access.world.roles.get(roleArn) ?? [...access.world.roles.values()].find((r) => r.arn === roleArn);
  if (role === undefined) throw new StatesError('States.Runtime', `The twin has no credentials for role ${roleArn}`);
  return new S3Client({
    endpoint: access.proxyUrl,
    region: access.world.region,
    forcePathStyle: true,
    credentials: { accessKeyId: role.accessKeyId, secretAccessKey: role.secretAccessKey },
    maxAttempts: 1,
  });
}

function describe(err: unknown): string {
  const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number; requestId?: string } };
  return `${e.message ?? String(err)} (Service: Amazon S3; Status Code: ${e.$metadata?.httpStatusCode ?? 0}; Error Code: ${e.name ?? 'Unknown'}; Request ID: ${e.$metadata?.requestId ?? 'null'}; Proxy: null)`;
}

/** The items a Distributed Map iterates: ItemReader's dataset, or the array at ItemsPath. */
export async function readItems(state: AslState, input: unknown, ctx: RunContext, access: S3Access): Promise<unknown[]> {
  const reader = state.ItemReader as Record<string, unknown> | undefined;
  if (reader === undefined) {
    const items = readPath(typeof state.ItemsPath === 'string' ? state.ItemsPath : '$', input, ctx.contextObject);
    if (!Array.isArray(items)) throw new StatesError('States.Runtime', 'The Map state ItemsPath did not select an array');
    return items;
  }
  const params = applyTemplate(reader.Parameters ?? {}, input, ctx.contextObject) as Record<string, unknown>;
  const config = (reader.ReaderConfig ?? {}) as Record<string, unknown>;
  const maxItems = typeof config.MaxItems === 'number' ? config.MaxItems : typeof config.MaxItemsPath === 'string' ? Number(readPath(config.MaxItemsPath, input)) : Infinity;
  const resource = String(reader.Resource);
  const s3 = roleS3Client(access, ctx.stateMachine.roleArn);
  try {
    const items: unknown[] = [];
    if (/:states:::s3:listObjectsV2$/.test(resource)) {
      let token: string | undefined;
      do {
        const page = await s3.send(new ListObjectsV2Command({ Bucket: String(params.Bucket), Prefix: params.Prefix as string | undefined, ContinuationToken: token, MaxKeys: access.listPageSize }));
        for (const o of page.Contents ?? []) {
          items.push({ Etag: o.ETag, Key: o.Key, LastModified: Math.floor((o.LastModified?.getTime() ?? 0) / 1000), Size: o.Size, StorageClass: o.StorageClass ?? 'STANDARD' });
        }
        token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
      } while (token !== undefined && items.length < maxItems);
    } else if (/:states:::s3:getObject$/.test(resource)) {
      const body = await (await s3.send(new GetObjectCommand({ Bucket: String(params.Bucket), Key: String(params.Key), VersionId: params.VersionId as string | undefined }))).Body?.transformToString();
      const text = body ?? '';
      items.push(...(config.InputType === 'JSONL' ? text.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as unknown) : (JSON.parse(text) as unknown[])));
    } else {
      throw new StatesError('States.Runtime', `The twin does not read items from ${resource}`);
    }
    return items.slice(0, maxItems);
  } catch (err) {
    if (err instanceof StatesError) throw err;
    // "States.ItemReaderFailed: the Map state failed because it couldn't read from the item
    // source specified in the ItemReader field" (concepts-error-handling).
    throw new StatesError('States.ItemReaderFailed', describe(err));
  } finally {
    s3.destroy();
  }
}

/** Writes one object as the state machine's role; a failure is States.ResultWriterFailed. */
export async function writeResult(access: S3Access, ctx: RunContext, bucket: string, key: string, body: string): Promise<number> {
  const s3 = roleS3Client(access, ctx.stateMachine.roleArn);
  try {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: 'application/json' }));
    return Buffer.byteLength(body);
  } catch (err) {
    throw new StatesError('States.ResultWriterFailed', describe(err));
  } finally {
    s3.destroy();
  }
}
