/**
 * S3 → EventBridge notifications: an "Object Created" event on the default bus for every object
 * written to a bucket with EventBridge notifications on.
 * Shape: "EventBridge event message structure" (https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html):
 * source `aws.s3`, detail-type `Object Created`, resources [bucket ARN], account of the bucket
 * owner, detail { version '0', bucket { name }, object { key, size, etag, version-id, sequencer },
 * request-id, requester, source-ip-address, reason 'PutObject' | 'CopyObject' | 'CompleteMultipartUpload' }.
 * `etag` appears without the quotes S3's ETag header carries; `version-id` only for versioned buckets.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { SimClock, TwinWorld } from '../world';
import type { RuleDelivery, TwinEventBus } from './event-bus';
import { isoSeconds, type EventEnvelope } from './types';

/** What S3 knows about one object write. */
export interface S3ObjectCreated {
  readonly bucket: string;
  readonly key: string;
  readonly size: number;
  /** ETag, with or without its quotes. */
  readonly etag: string;
  readonly versionId?: string;
  /** The requester's account id or service principal. */
  readonly requester: string;
  readonly reason?: 'PutObject' | 'CopyObject' | 'CompleteMultipartUpload';
  readonly sourceIpAddress?: string;
  readonly requestId?: string;
  /** Hex string ordering events of one key; generated when absent. */
  readonly sequencer?: string;
}

/** Builds the documented Object Created event. */
export function s3ObjectCreatedEvent(input: S3ObjectCreated, env: { readonly account: string; readonly region: string; readonly partition?: string; readonly time: number; readonly id?: string }): EventEnvelope {
  const object: Record<string, unknown> = { key: input.key, size: input.size, etag: input.etag.replace(/^"|"$/g, '') };
  if (input.versionId !== undefined) object['version-id'] = input.versionId;
  object.sequencer = input.sequencer ?? randomBytes(8).toString('hex').toUpperCase();
  return {
    version: '0',
    id: env.id ?? randomUUID(),
    'detail-type': 'Object Created',
    source: 'aws.s3',
    account: env.account,
    time: isoSeconds(env.time),
    region: env.region,
    resources: [`arn:${env.partition ?? 'aws'}:s3:::${input.bucket}`],
    detail: {
      version: '0',
      bucket: { name: input.bucket },
      object,
      'request-id': input.requestId ?? randomBytes(8).toString('hex').toUpperCase(),
      requester: input.requester,
      'source-ip-address': input.sourceIpAddress ?? '127.0.0.1',
      reason: input.reason ?? 'PutObject',
    },
  };
}

/**
 * Emits S3's events to the default bus for buckets whose world entry has `eventBridge: true`.
 *
 * @example
 * const s3 = new TwinS3Notifications({ world, clock, bus });
 * await s3.notifyS3({ bucket, key, size: 12, etag: '"abc"', requester: world.account });
 */
export class TwinS3Notifications {
  private sequence = 0n;

  public constructor(private readonly opts: { readonly world: TwinWorld; readonly clock: SimClock; readonly bus: TwinEventBus }) {}

  /** Emits the Object Created event; `undefined` (nothing sent) when the bucket has notifications off or is unknown. */
  public async notifyS3(input: S3ObjectCreated): Promise<{ event: EventEnvelope; deliveries: RuleDelivery[] } | undefined> {
    const { world, clock, bus } = this.opts;
    const bucket = world.buckets.get(input.bucket);
    if (bucket === undefined || !bucket.eventBridge) return undefined;
    // Sequencers grow per write so consumers can order events of one key, as S3 guarantees.
    this.sequence += 1n;
    const sequencer = input.sequencer ?? (BigInt(clock.now()) * 1_000_000n + this.sequence).toString(16).toUpperCase().padStart(16, '0');
    const event = s3ObjectCreatedEvent({ ...input, sequencer }, { account: world.account, region: world.region, partition: world.partition, time: clock.now() });
    const deliveries = await bus.dispatch(event, 'default');
    return { event, deliveries };
  }
}
