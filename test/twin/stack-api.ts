/**
 * The twin's answers that stand in for AWS around the CLI: CloudFormation DescribeStacks for the
 * stood-up stack, and the shifted clock a CLI command runs under.
 */
import { randomUUID } from 'node:crypto';
import { awsErrorReply, stackArn, type ProxyReply } from './proxy';
import type { TwinWorld } from './world';

/** DescribeStacks of the stood-up stack (its outputs), or the ValidationError AWS gives for another name. */
export function describeStacksReply(world: TwinWorld, asked: string, now: number): ProxyReply {
  const id = stackArn(world);
  if (asked !== world.stackName && asked !== id) return awsErrorReply('cloudformation', 400, 'ValidationError', `Stack with id ${asked} does not exist`);
  const esc = (v: string): string => v.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
  const outputs = Object.entries(world.outputs)
    .map(([k, v]) => `<member><OutputKey>${esc(k)}</OutputKey><OutputValue>${esc(v)}</OutputValue></member>`)
    .join('');
  // Query-protocol response of DescribeStacks (CloudFormation API reference, DescribeStacks / Stack / Output).
  const xml =
    '<DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><DescribeStacksResult><Stacks><member>' +
    `<StackName>${esc(world.stackName)}</StackName><StackId>${esc(id)}</StackId><StackStatus>CREATE_COMPLETE</StackStatus>` +
    `<CreationTime>${new Date(now).toISOString()}</CreationTime><Outputs>${outputs}</Outputs>` +
    `</member></Stacks></DescribeStacksResult><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></DescribeStacksResponse>`;
  return { status: 200, headers: { 'content-type': 'text/xml' }, body: Buffer.from(xml) };
}

/** Replaces the global Date with one `offsetMs` ahead; returns the undo. */
export function shiftDate(offsetMs: number): () => void {
  const RealDate = Date;
  class SimDate extends RealDate {
    public constructor(...args: unknown[]) {
      if (args.length === 0) super(RealDate.now() + offsetMs);
      else super(...(args as [string]));
    }
    public static override now(): number {
      return RealDate.now() + offsetMs;
    }
  }
  globalThis.Date = SimDate as DateConstructor;
  return () => {
    globalThis.Date = RealDate;
  };
}
