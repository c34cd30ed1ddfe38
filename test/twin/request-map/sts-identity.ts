/**
 * STS GetCallerIdentity as AWS answers it for the twin's callers. moto knows none of the twin's
 * access keys (it would name its built-in user), while every twin caller signs as a role: AWS
 * names a role session `arn:aws:sts::<account>:assumed-role/<role>/<session>` with UserId
 * `<role id>:<session>` (STS API Reference, GetCallerIdentity, example "assumed role":
 * https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html; awsQuery XML
 * response, namespace https://sts.amazonaws.com/doc/2011-06-15/).
 */
import { createHash, randomUUID } from 'node:crypto';
import type { TwinRole } from '../world';
import { parseArn } from '../authz/resource-policies';

/** Session name the twin's callers sign under (a Lambda function's session is named after it on AWS; one name is enough here). */
export const TWIN_SESSION_NAME = 'twin';

/** What GetCallerIdentity returns for `role`: `{ Arn, UserId, Account }`. */
export function callerIdentityOf(role: TwinRole): { readonly arn: string; readonly userId: string; readonly account: string } {
  const parsed = parseArn(role.arn);
  const partition = parsed?.partition ?? 'aws';
  const account = parsed?.account ?? '';
  // A stable role id (AROA + 17 characters), as IAM assigns one per role.
  const roleId = `AROA${createHash('sha256').update(role.arn).digest('hex').slice(0, 17).toUpperCase()}`;
  return { arn: `arn:${partition}:sts::${account}:assumed-role/${role.name}/${TWIN_SESSION_NAME}`, userId: `${roleId}:${TWIN_SESSION_NAME}`, account };
}

/** The awsQuery XML body of a GetCallerIdentity response for `role`. */
export function callerIdentityXml(role: TwinRole): string {
  const id = callerIdentityOf(role);
  const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  return [
    '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">',
    `<GetCallerIdentityResult><Arn>${esc(id.arn)}</Arn><UserId>${esc(id.userId)}</UserId><Account>${esc(id.account)}</Account></GetCallerIdentityResult>`,
    `<ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata>`,
    '</GetCallerIdentityResponse>',
  ].join('');
}
