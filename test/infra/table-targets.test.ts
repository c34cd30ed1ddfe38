/**
 * DynamoDB table targets in the stack: props validation, the environment variable and output,
 * the sweep state machine's table branch (Choice on `$.table`, DISTRIBUTED Map over
 * `$.segments` with an ItemSelector, the cursor loop, the S3 branch's retriers), the rewrap
 * schedules and each role's exact DynamoDB actions and ARNs.
 *
 * ASL fields relied on: "Map state in Distributed mode" / "ItemSelector (Map)"
 * (https://docs.aws.amazon.com/step-functions/latest/dg/input-output-itemselector.html: `$$.Map.Item.Value`
 * is the current item) and "Choice workflow state" (IsPresent); DynamoDB index ARNs are
 * `arn:${Partition}:dynamodb:${Region}:${Account}:table/${TableName}/index/${IndexName}` ("Actions,
 * resources, and condition keys for Amazon DynamoDB", https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazondynamodb.html).
 */
import * as iam from 'aws-cdk-lib/aws-iam';
import type { Template } from 'aws-cdk-lib/assertions';
import { resolveRekeyProps, type RekeyConfigProps } from '../../infra/props';
import { BATCH_RETRY_ERRORS, THROTTLE_ERRORS } from '../../infra/constructs/sweep-state-machine';
import { TABLE_ACCESS } from '../../infra/parts/function-permissions';
import { ORIGIN_INDEX, VERSION_INDEX } from '../../shared/adapters/aws/dynamodb-record-table';
import { ENV } from '../../shared/config/env-names';
import { FULL_CONFIG, synthStack } from './support/stack-fixture';

type Resource = { Type: string; Properties?: Record<string, unknown> };
type Statement = Record<string, unknown>;
type State = Record<string, unknown>;

const TABLES = [
  { keyring: 'pii', table: 'orders-table', segments: 4 },
  { keyring: 'ops', table: 'ops-table' },
];
const CONFIG: RekeyConfigProps = { ...FULL_CONFIG, tableTargets: TABLES };

const asList = (v: unknown): unknown[] => (Array.isArray(v) ? v : [v]);

function roleStatements(template: Template, fn: string): Statement[] {
  const id = `Fn${fn.replace(/-/g, '')}RoleDefaultPolicy`;
  const policies = Object.entries(template.findResources('AWS::IAM::Policy') as Record<string, Resource>).filter(([logicalId]) => logicalId.startsWith(id));
  expect(policies).toHaveLength(1);
  return (policies[0]?.[1].Properties?.['PolicyDocument'] as { Statement: Statement[] }).Statement;
}

/** The rendered ARN (Fn::Join of the partition/region/account pseudo parameters) as a readable string. */
function render(resource: unknown): string {
  if (typeof resource === 'string') return resource;
  const join = (resource as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
  if (join !== undefined) return join[1].map(render).join(join[0]);
  const ref = (resource as { Ref?: string }).Ref;
  if (ref !== undefined) return `\${${ref}}`;
  return JSON.stringify(resource);
}

/** DynamoDB statements of a role: action set → rendered resources. */
function dynamoGrants(statements: readonly Statement[]): { actions: string[]; resources: string[] }[] {
  return statements
    .filter((s) => (asList(s['Action']) as string[]).some((a) => a.startsWith('dynamodb:')))
    .map((s) => ({ actions: (asList(s['Action']) as string[]).sort(), resources: asList(s['Resource']).map(render).sort() }));
}

const tableArn = (t: string): string => `arn:\${AWS::Partition}:dynamodb:\${AWS::Region}:\${AWS::AccountId}:table/${t}`;
const indexArns = (t: string): string[] => [VERSION_INDEX, ORIGIN_INDEX].map((i) => `${tableArn(t)}/index/${i}`);

describe('DynamoDB table targets', () => {
  let template: Template;
  let states: Record<string, State>;

  beforeAll(() => {
    ({ template } = synthStack(CONFIG));
    const sm = Object.values(template.findResources('AWS::StepFunctions::StateMachine') as Record<string, Resource>)[0];
    const definition = sm?.Properties?.['DefinitionString'] as { 'Fn::Join': [string, unknown[]] };
    // The definition is a Fn::Join around the worker's ARN: replace the tokens by a marker to parse it.
    const text = definition['Fn::Join'][1].map((p) => (typeof p === 'string' ? p : 'WORKER')).join('');
    states = (JSON.parse(text) as { States: Record<string, State> }).States;
  });

  describe('props', () => {
    it('defaults segments to 8 and keeps the given ones', () => {
      const resolved = resolveRekeyProps(CONFIG);
      expect(resolved.tableTargets).toEqual([{ keyring: 'pii', table: 'orders-table', segments: 4 }, { keyring: 'ops', table: 'ops-table', segments: 8 }]);
    });

    it.each([
      ['an unknown keyring', [{ keyring: 'nope', table: 'orders-table' }], /tableTargets\.0\.keyring.*unknown keyring 'nope'/s],
      ['a duplicate table and keyring', [{ keyring: 'pii', table: 't-1' }, { keyring: 'pii', table: 't-1', segments: 2 }], /tableTargets\.1.*duplicate table target t-1/s],
      ['zero segments', [{ keyring: 'pii', table: 't-1', segments: 0 }], /tableTargets\.0\.segments.*must be 1 to 64/s],
      ['65 segments', [{ keyring: 'pii', table: 't-1', segments: 65 }], /tableTargets\.0\.segments.*must be 1 to 64/s],
      ['a bad table name', [{ keyring: 'pii', table: 'no spaces!' }], /tableTargets\.0\.table.*DynamoDB table name/s],
    ])('refuses %s', (_what, tableTargets, message) => {
      expect(() => resolveRekeyProps({ ...FULL_CONFIG, tableTargets })).toThrow(message);
    });

    it('accepts the same table under two keyrings', () => {
      expect(resolveRekeyProps({ ...FULL_CONFIG, tableTargets: [{ keyring: 'pii', table: 't-1' }, { keyring: 'ops', table: 't-1' }] }).tableTargets).toHaveLength(2);
    });
  });

  it('gives every function the table targets and outputs them', () => {
    const expected = JSON.stringify(resolveRekeyProps(CONFIG).tableTargets);
    const fns = Object.values(template.findResources('AWS::Lambda::Function') as Record<string, Resource>)
      .map((f) => (f.Properties?.['Environment'] as { Variables?: Record<string, unknown> } | undefined)?.Variables)
      .filter((v) => v?.[ENV.catalogBucket] !== undefined);
    expect(fns.length).toBeGreaterThan(0);
    for (const v of fns) expect(v?.[ENV.tableTargets]).toBe(expected);
    expect(template.findOutputs('TableTargets')['TableTargets']?.['Value']).toBe(expected);
  });

  describe('sweep state machine', () => {
    it('branches on $.table before the S3 branch', () => {
      const start = Object.values(states).find((s) => s['Type'] === 'Choice' && JSON.stringify(s['Choices']).includes('"$.table"'));
      expect(start).toMatchObject({ Choices: [{ Variable: '$.table', IsPresent: true, Next: 'TableNamesVersion' }], Default: 'NamesVersion' });
      expect(states['TableNamesVersion']).toMatchObject({ Choices: [{ Variable: '$.version', IsPresent: true, Next: 'SweepTableVersion' }], Default: 'SweepTable' });
    });

    it.each([['SweepTable', ''], ['SweepTableVersion', 'Version']])('%s is a DISTRIBUTED map over $.segments that loops on the cursor', (mapName, suffix) => {
      const map = states[mapName] as State;
      const selector = { 'keyring.$': '$.keyring', 'table.$': '$.table', 'mode.$': '$.mode', 'segment.$': '$$.Map.Item.Value', 'totalSegments.$': '$.totalSegments', ...(suffix === '' ? {} : { 'version.$': '$.version' }) };
      expect(map).toMatchObject({ Type: 'Map', ItemsPath: '$.segments', ItemSelector: selector });
      // CDK omits a tolerated failure of 0, which is also the Map state's default: one failed segment fails the run.
      expect(map['ToleratedFailurePercentage'] ?? 0).toBe(0);
      expect(map['ToleratedFailureCount']).toBeUndefined();
      expect(map['ItemReader']).toBeUndefined();
      expect(JSON.stringify(map['ResultWriter'])).toContain('sweeps/');
      const processor = map['ItemProcessor'] as { ProcessorConfig: unknown; StartAt: string; States: Record<string, State> };
      expect(processor.ProcessorConfig).toEqual({ Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' });
      const invoke = processor.States[processor.StartAt] as State;
      expect(processor.StartAt).toBe(`ReencryptSegment${suffix}`);
      expect(invoke).toMatchObject({ Type: 'Task', Next: `MorePages${suffix}` });
      expect((invoke['Retry'] as { ErrorEquals: string[] }[]).map((r) => r.ErrorEquals)).toEqual(expect.arrayContaining([[...THROTTLE_ERRORS], [...BATCH_RETRY_ERRORS]]));
      expect(processor.States[`MorePages${suffix}`]).toMatchObject({ Type: 'Choice', Choices: [{ Variable: '$.cursor', IsPresent: true, Next: `NextPage${suffix}` }], Default: `SegmentDone${suffix}` });
      expect(processor.States[`NextPage${suffix}`]).toMatchObject({ Type: 'Pass', Next: `ReencryptSegment${suffix}` });
      expect(processor.States[`SegmentDone${suffix}`]).toMatchObject({ Type: 'Succeed' });
      // Only the states the twin interprets, and no intrinsic function anywhere.
      for (const s of Object.values(processor.States)) expect(['Task', 'Choice', 'Pass', 'Succeed', 'Fail']).toContain(s['Type']);
      expect(JSON.stringify(map)).not.toContain('States.');
    });

    it('retries the table invocations exactly like the S3 batches', () => {
      const retryOf = (name: string): unknown => ((states['SweepTarget'] ?? states[name]) as State)['ItemProcessor'];
      const s3Invoke = Object.values((retryOf('SweepTarget') as { States: Record<string, State> }).States)[0] as State;
      const tableInvoke = (states['SweepTable'] as { ItemProcessor: { States: Record<string, State> } }).ItemProcessor.States['ReencryptSegment'] as State;
      expect(tableInvoke['Retry']).toEqual(s3Invoke['Retry']);
    });
  });

  it('schedules a rewrap sweep per table target with its segment list', () => {
    const inputs = Object.values(template.findResources('AWS::Scheduler::Schedule') as Record<string, Resource>)
      .map((s) => JSON.parse(String((s.Properties?.['Target'] as { Input?: string }).Input ?? '{}')) as Record<string, unknown>)
      .filter((i) => i['table'] !== undefined);
    expect(inputs).toEqual(expect.arrayContaining([
      { keyring: 'pii', table: 'orders-table', mode: 'rewrap', totalSegments: 4, segments: [0, 1, 2, 3] },
      { keyring: 'ops', table: 'ops-table', mode: 'rewrap', totalSegments: 8, segments: [0, 1, 2, 3, 4, 5, 6, 7] },
    ]));
    expect(inputs).toHaveLength(TABLES.length);
  });

  describe('permissions', () => {
    const tables = TABLES.map((t) => t.table);
    const expectGrants = (fn: string, access: { table: readonly string[]; indexes: readonly string[] }): void => {
      const grants = dynamoGrants(roleStatements(template, fn));
      const expected = [
        ...(access.table.length === 0 ? [] : [{ actions: [...access.table].sort(), resources: tables.map(tableArn).sort() }]),
        { actions: [...access.indexes].sort(), resources: tables.flatMap(indexArns).sort() },
      ];
      expect(grants).toEqual(expected);
    };

    it('reencrypt: GetItem, PutItem, UpdateItem on the tables; Query and Scan on their indexes only', () => {
      expect(TABLE_ACCESS.sweep).toEqual({ table: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'], indexes: ['dynamodb:Query', 'dynamodb:Scan'] });
      expectGrants('reencrypt', TABLE_ACCESS.sweep);
    });

    it('revoke: the same item actions, and only Query on the indexes (its inline sweep lists by origin)', () => {
      expect(TABLE_ACCESS.revoke).toEqual({ table: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'], indexes: ['dynamodb:Query'] });
      expectGrants('revoke', TABLE_ACCESS.revoke);
    });

    it('grace-period: only Query on the indexes', () => {
      expectGrants('grace-period', TABLE_ACCESS.count);
    });

    it("an operator role of this app: only Query on the indexes (status --count-records), never the items", () => {
      // Prepare
      const { template: withOperator } = synthStack(CONFIG, (s) => {
        s.grantOperatorAccess(new iam.Role(s, 'OwnOperator', { assumedBy: new iam.AccountRootPrincipal() }));
      });
      const policy = Object.entries(withOperator.findResources('AWS::IAM::Policy') as Record<string, Resource>).find(([id]) => id.startsWith('OwnOperatorDefaultPolicy'));
      // Act
      const grants = dynamoGrants((policy?.[1].Properties?.['PolicyDocument'] as { Statement: Statement[] }).Statement);
      // Assess
      const tables = [...new Set(TABLES.map((t) => t.table))];
      expect(grants).toEqual([{ actions: [...TABLE_ACCESS.count.indexes].sort(), resources: tables.flatMap(indexArns).sort() }]);
    });

    it('no other function touches DynamoDB', () => {
      const fns = Object.keys(template.findResources('AWS::IAM::Policy')).filter((id) => id.startsWith('Fn') && id.includes('RoleDefaultPolicy'));
      const others = fns.filter((id) => !['Fnreencrypt', 'Fnrevoke', 'Fngraceperiod'].some((p) => id.startsWith(`${p}Role`)));
      for (const id of others) {
        const statements = ((template.findResources('AWS::IAM::Policy') as Record<string, Resource>)[id]?.Properties?.['PolicyDocument'] as { Statement: Statement[] }).Statement;
        expect(dynamoGrants(statements)).toEqual([]);
      }
    });
  });
});
