/**
 * Who may put events on the stack's bus: only the functions whose use case writes audit events
 * (their services are built on shared/compose/aws/aws-core.ts, with the EventBridge audit sink).
 * key-use and key-access build no audit sink and no EventBridge client, so a PutEvents grant
 * would be one nobody's code path calls.
 */
import type { Template } from 'aws-cdk-lib/assertions';
import { AUDIT_WRITERS } from '../../../infra/parts/function-permissions';
import { FUNCTION_SIZING } from '../../../infra/defaults';
import { FULL_CONFIG, synthStack } from '../../infra/support/stack-fixture';

type Statement = { Action?: unknown; Resource?: unknown };
type Resource = { Properties?: { PolicyDocument?: { Statement: Statement[] } } };

const asList = (v: unknown): unknown[] => (Array.isArray(v) ? v : [v]);

/** The identity statements of one function's role (its DefaultPolicy), or none. */
function roleStatements(template: Template, fn: string): Statement[] {
  const id = `Fn${fn.replace(/-/g, '')}RoleDefaultPolicy`;
  return Object.entries(template.findResources('AWS::IAM::Policy') as Record<string, Resource>)
    .filter(([logicalId]) => logicalId.startsWith(id))
    .flatMap(([, r]) => r.Properties?.PolicyDocument?.Statement ?? []);
}

describe('events:PutEvents on the function roles', () => {
  let template: Template;

  beforeAll(() => {
    ({ template } = synthStack(FULL_CONFIG));
  });

  it('is granted to the audit writers only, on the stack bus, and never to key-use or key-access', () => {
    // Prepare
    const functions = Object.keys(FUNCTION_SIZING);
    // Act
    const senders = functions.filter((fn) => roleStatements(template, fn).some((s) => asList(s.Action).includes('events:PutEvents')));
    const resources = AUDIT_WRITERS.flatMap((fn) => roleStatements(template, fn).filter((s) => asList(s.Action).includes('events:PutEvents')).map((s) => JSON.stringify(s.Resource)));
    // Assess
    expect(senders.sort()).toEqual([...AUDIT_WRITERS].sort());
    expect(senders).not.toContain('key-use');
    expect(senders).not.toContain('key-access');
    expect(resources).toHaveLength(AUDIT_WRITERS.length);
    for (const r of resources) expect(r).toMatch(/"Fn::GetAtt":\["Bus[0-9A-F]{8}","Arn"\]/);
  });
});
