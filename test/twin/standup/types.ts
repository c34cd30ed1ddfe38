/**
 * Types shared by the stand-up engine (./stand-up.ts) and its per-service resource handlers
 * (./handlers/*): the deployed state of one resource, the context a handler gets, and the
 * custom-resource callback the twin's caller supplies.
 */
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { KMSClient } from '@aws-sdk/client-kms';
import type { S3Client } from '@aws-sdk/client-s3';
import type { SFNClient } from '@aws-sdk/client-sfn';
import type { SNSClient } from '@aws-sdk/client-sns';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { TwinWorld } from '../world';
import type { CfnResource } from './template';

/** What the stack knows of one resource it created. */
export interface ResourceState {
  readonly logicalId: string;
  readonly type: string;
  /** What `Ref` returns. */
  readonly physicalId: string;
  /** What `Fn::GetAtt` returns, by attribute name. */
  readonly attributes: Readonly<Record<string, unknown>>;
  /** The resolved properties it was created or last updated with. */
  readonly properties: Readonly<Record<string, unknown>>;
  readonly deletionPolicy?: string;
}

/** SDK clients on the private moto_server, with admin credentials (never through the twin's proxy). */
export interface MotoClients {
  readonly s3: S3Client;
  readonly kms: KMSClient;
  readonly sqs: SQSClient;
  readonly sns: SNSClient;
  readonly events: EventBridgeClient;
  readonly cloudwatch: CloudWatchClient;
  readonly sfn: SFNClient;
}

/** An EventBridge archive (TwinWorld has no field for it: kept in {@link TwinExtras}). */
export interface TwinArchive {
  readonly logicalId: string;
  readonly name: string;
  readonly arn: string;
  readonly sourceArn: string;
  readonly pattern?: Record<string, unknown>;
  readonly retentionDays?: number;
}

/** What the stand-up records that TwinWorld has no field for (see `extrasOf` in ./standup.ts). */
export interface TwinExtras {
  readonly archives: TwinArchive[];
  /** Dashboard name → its resolved body (JSON text). */
  readonly dashboards: Map<string, { readonly logicalId: string; readonly body: string }>;
  /** Log group name → its ARN and retention. */
  readonly logGroups: Map<string, { readonly logicalId: string; readonly name: string; readonly arn: string; readonly retentionInDays?: number }>;
  /** KMS alias name → target key id. */
  readonly aliases: Map<string, string>;
}

/** One CloudFormation request to a custom resource provider, in the twin's terms. */
export interface CustomResourceCall {
  readonly requestType: 'Create' | 'Update' | 'Delete';
  readonly logicalId: string;
  /** `Custom::Something` or `AWS::CloudFormation::CustomResource`. */
  readonly type: string;
  /** The provider: a Lambda function ARN (or an SNS topic ARN). */
  readonly serviceToken: string;
  /**
   * `ResourceProperties` as CloudFormation sends them, ServiceToken included; numbers and
   * booleans arrive as strings (aws-cloudformation/cloudformation-coverage-roadmap#1037).
   */
  readonly properties: Record<string, unknown>;
  /** Update only: the properties of the previous deployment. */
  readonly oldProperties?: Record<string, unknown>;
  /** Update and Delete: the physical id the provider returned before. */
  readonly physicalResourceId?: string;
  readonly stackId: string;
  readonly stackName: string;
}

/**
 * What a provider answered. `status` absent means SUCCESS; FAILED (or a thrown error) fails the
 * resource and the stack operation, with `reason`. {@link runCustomResource}'s answer fits as is.
 */
export interface CustomResourceResult {
  readonly status?: 'SUCCESS' | 'FAILED';
  readonly reason?: string;
  readonly physicalResourceId: string;
  readonly data?: Record<string, unknown>;
  readonly noEcho?: boolean;
}

/** Supplied by the caller of standUp/updateStack: runs one custom-resource request (e.g. with `runCustomResource`). */
export type CustomResourceHandler = (call: CustomResourceCall) => Promise<CustomResourceResult>;

/** Everything a resource handler may read or change. */
export interface HandlerContext {
  readonly logicalId: string;
  readonly type: string;
  /** The template entry (Metadata, DeletionPolicy). */
  readonly resource: CfnResource;
  /** Resolved properties (no intrinsic left). */
  readonly properties: Record<string, unknown>;
  /** Present on an update: what the previous deployment made. */
  readonly previous?: ResourceState;
  readonly world: TwinWorld;
  readonly aws: MotoClients;
  readonly outdir: string;
  readonly stackName: string;
  readonly stackId: string;
  /** Every resource of the stack created so far, by logical id. */
  readonly state: ReadonlyMap<string, ResourceState>;
  readonly extras: TwinExtras;
  readonly onCustomResource: CustomResourceHandler;
  /** Runs `task` after every create and update of this deployment (CloudFormation's cleanup phase). */
  deferCleanup(task: () => Promise<void>): void;
}

/** The outcome of creating or updating one resource. */
export interface Applied {
  readonly physicalId: string;
  readonly attributes: Record<string, unknown>;
}

/** How the twin creates, updates and deletes one CloudFormation resource type. */
export interface ResourceHandler {
  /** Creates the resource (`ctx.previous` undefined) or updates it in place (`ctx.previous` set). */
  apply(ctx: HandlerContext): Promise<Applied>;
  /** Deletes it (not called for DeletionPolicy Retain). */
  remove?(ctx: HandlerContext, previous: ResourceState): Promise<void>;
}
