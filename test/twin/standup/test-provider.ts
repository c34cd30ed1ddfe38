/**
 * A tiny Lambda-style custom-resource provider for tests: answers CloudFormation by PUTting the
 * documented response object to the event's ResponseURL with fetch ("Custom resource response
 * objects", CloudFormation User Guide). `ResourceProperties.Mode` picks a behaviour so tests can
 * see how CloudFormation judges good and bad responses.
 */
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';

/** Every event this provider received, in order. */
export const received: CloudFormationCustomResourceEvent[] = [];

/** The handler (`index.handler` style). */
export async function handler(event: CloudFormationCustomResourceEvent): Promise<void> {
  received.push(event);
  const props = event.ResourceProperties as Record<string, unknown>;
  const mode = String(props['Mode'] ?? 'ok');
  if (mode === 'silent') return;
  const physical = event.RequestType === 'Create' ? `thing-${String(props['Name'])}` : event.PhysicalResourceId;
  const base = { StackId: event.StackId, RequestId: mode === 'wrong-request' ? 'not-the-request' : event.RequestId, LogicalResourceId: event.LogicalResourceId };
  const body =
    mode === 'fail' ? { ...base, Status: 'FAILED', Reason: 'provider refused', PhysicalResourceId: physical }
    : mode === 'no-id' ? { ...base, Status: 'SUCCESS' }
    : mode === 'fail-no-reason' ? { ...base, Status: 'FAILED', PhysicalResourceId: physical }
    : { ...base, Status: 'SUCCESS', PhysicalResourceId: mode === 'replace' && event.RequestType === 'Update' ? `thing-${String(props['Name'])}` : physical, Data: { Label: `label-${String(props['Name'])}`, Count: props['Count'] } };
  const res = await fetch(event.ResponseURL, { method: 'PUT', body: JSON.stringify(body), headers: { 'content-type': '' } });
  if (!res.ok) throw new Error(`response PUT failed: ${res.status}`);
}
