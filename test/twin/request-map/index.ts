/**
 * `mapRequest`: one raw HTTP request → the service, operation, parameters and the authorization
 * questions AWS would ask about it. Pure: it reads the world and the request, nothing else.
 */
import type { AuthzRequest, RequestContext, TwinPrincipal } from '../authz/types';
import type { TwinRole, TwinWorld } from '../world';
import { requestTime, roleOf, sigV4Credential, type AwsProtocol, type MapContext, type MappedOperation, type RawHttpRequest, type SigV4Credential } from './common';
import { protocolOf } from './errors';
import { mapDynamoDb } from './dynamodb';
import { mapCloudWatch, mapEvents, mapSqs, mapStates } from './json-rpc';
import { mapKms } from './kms';
import { mapLambda } from './lambda';
import { mapCloudFormation, mapElastiCache, mapSns, mapSts } from './query';
import { mapS3 } from './s3';

/** A request the proxy has understood. */
export interface AwsRequest {
  readonly raw: RawHttpRequest;
  /** SigV4 signing name from the credential scope: `s3`, `kms`, `sqs`, `sns`, `events`, `monitoring`, `states`, `lambda`, `cloudformation`, `elasticache`, `sts`, `dynamodb`. */
  readonly service: string;
  readonly protocol: AwsProtocol;
  /** API operation name (`GetObject`, `Decrypt`, `PutEvents`, `Invoke`). */
  readonly operation: string;
  /** The operation's parameters as parsed from the wire (JSON body, query form, or S3 path/query). */
  readonly params: Readonly<Record<string, unknown>>;
  readonly credential?: SigV4Credential;
  readonly principal: TwinPrincipal;
  /** The role the access key belongs to. */
  readonly role?: TwinRole;
  /** The request was signed with an access key the world does not know (AWS rejects it before authorization). */
  readonly unknownAccessKey: boolean;
  /** Every authorization AWS evaluates for this request (all must be allowed). */
  readonly authz: readonly AuthzRequest[];
  /** The caller's (simulated) clock: `x-amz-date`, in ms since the epoch. */
  readonly at: number;
  /** aws:SecureTransport as the twin reports it (true unless `x-twin-insecure-transport: 1`). */
  readonly secureTransport: boolean;
}

/** Options of {@link mapRequest}. */
export interface MapOptions {
  /** KMS alias name (`alias/x`) → key ARN (the proxy reads them from moto). */
  readonly aliases?: ReadonlyMap<string, string>;
  /** Clock used when the request carries no `x-amz-date`. */
  readonly now?: () => number;
}

/** Header a negative test sets to make the twin report aws:SecureTransport = false (the loopback proxy itself speaks HTTP). */
export const INSECURE_TRANSPORT_HEADER = 'x-twin-insecure-transport';

/** Signing name from the request shape, for unsigned (anonymous) requests. */
const TARGET_SERVICES: Readonly<Record<string, string>> = {
  TrentService: 'kms',
  AWSEvents: 'events',
  AmazonSQS: 'sqs',
  GraniteServiceVersion20100801: 'monitoring',
  AWSStepFunctions: 'states',
  DynamoDB_20120810: 'dynamodb',
};

function inferService(raw: RawHttpRequest): string {
  const target = raw.headers['x-amz-target'];
  if (target !== undefined) return TARGET_SERVICES[target.split('.')[0] ?? ''] ?? 'unknown';
  if (/^\/20\d\d-\d\d-\d\d\/functions/.test(raw.path)) return 'lambda';
  return 's3';
}

const MAPPERS: Readonly<Record<string, (ctx: MapContext, raw: RawHttpRequest) => MappedOperation>> = {
  s3: mapS3,
  kms: mapKms,
  sqs: mapSqs,
  events: mapEvents,
  monitoring: mapCloudWatch,
  states: mapStates,
  lambda: mapLambda,
  sns: mapSns,
  cloudformation: mapCloudFormation,
  elasticache: mapElastiCache,
  sts: mapSts,
  dynamodb: mapDynamoDb,
};

/**
 * Derives service, operation, parameters and AuthzRequests from a raw request.
 *
 * @example
 * const req = mapRequest(world, { method: 'GET', path: '/b/k', query: 'versionId=v1', headers, body: Buffer.alloc(0) });
 * req.authz[0].action; // 's3:GetObjectVersion'
 */
export function mapRequest(world: TwinWorld, raw: RawHttpRequest, options: MapOptions = {}): AwsRequest {
  const credential = sigV4Credential(raw);
  const role = roleOf(world, credential);
  const service = credential?.service ?? inferService(raw);
  const at = requestTime(raw) ?? (options.now ?? Date.now)();
  const secureTransport = raw.headers[INSECURE_TRANSPORT_HEADER] !== '1';
  const region = credential?.region ?? world.region;
  const global: RequestContext = {
    'aws:SecureTransport': secureTransport,
    'aws:CurrentTime': new Date(at).toISOString(),
    'aws:EpochTime': Math.floor(at / 1000),
    'aws:RequestedRegion': region,
  };
  const ctx: MapContext = { world, region: world.region, account: world.account, global, aliases: options.aliases ?? new Map() };
  const mapper = MAPPERS[service];
  const mapped: MappedOperation = mapper === undefined ? { operation: 'Unknown', params: {}, checks: [{ action: `${service}:Unknown`, resource: '*', context: global }] } : mapper(ctx, raw);
  const principal: TwinPrincipal = role !== undefined ? { kind: 'role', arn: role.arn } : { kind: 'anonymous' };
  return {
    raw,
    service,
    protocol: protocolOf(service),
    operation: mapped.operation,
    params: mapped.params,
    ...(credential === undefined ? {} : { credential }),
    principal,
    ...(role === undefined ? {} : { role }),
    unknownAccessKey: credential !== undefined && role === undefined,
    authz: mapped.checks.map((c) => ({ ...c, principal: c.principal ?? principal })),
    at,
    secureTransport,
  };
}

export type { RawHttpRequest, AwsProtocol, SigV4Credential } from './common';
