/**
 * The twin's ASL interpreter runs the shape of the DynamoDB sweep branch (/tmp/h/h5a.md item 3:
 * Choice on `$.table` → DISTRIBUTED Map over `$.segments` with ItemSelector → Lambda invoke per
 * segment, looping through Choice → Pass while the response carries a `cursor`; no intrinsics).
 *
 * Semantics relied on, from the Step Functions Developer Guide
 * (https://docs.aws.amazon.com/step-functions/latest/dg/):
 * - "ItemSelector (Map)" (input-output-itemselector.html): the selector's pairs are static values,
 *   paths into the Map state's input, or Context object values; `"value.$": "$$.Map.Item.Value"`
 *   is the current item.
 * - "Accessing execution data from the Context object" (input-output-contextobject.html):
 *   `$$.Map.Item.Index` / `$$.Map.Item.Value` exist only while ItemSelector is evaluated.
 * - "Pass workflow state" / "Choice workflow state": Parameters builds a new object from paths;
 *   a Choice with IsPresent picks the loop edge; Default ends it.
 * - "Invoke an AWS Lambda function with Step Functions" (connect-lambda.html): the
 *   `arn:aws:states:::lambda:invoke` result is the Invoke response, the function's output in `Payload`.
 */
import { TwinStepFunctions, type LambdaInvokeResult } from './drivers/state-machine';
import { SimClock, TwinWorld, TWIN_ACCOUNT } from './world';

const FN_ARN = `arn:aws:lambda:us-east-1:${TWIN_ACCOUNT}:function:reencrypt`;
const ROLE_ARN = `arn:aws:iam::${TWIN_ACCOUNT}:role/SweepRole`;
const TOTAL = 4;
/** Pages per segment the fake function needs (segment i needs i+1 invocations): the loop must run that often. */
const pagesOf = (segment: number): number => segment + 1;

const invoke = (next: string): Record<string, unknown> => ({
  Type: 'Task',
  Resource: 'arn:aws:states:::lambda:invoke',
  Parameters: { FunctionName: FN_ARN, 'Payload.$': '$' },
  ResultSelector: { 'result.$': '$.Payload' },
  Next: next,
});

/** The DynamoDB branch as H5a describes it (and the S3 branch as a stub the Choice must skip). */
const DEFINITION = {
  StartAt: 'WhichTarget',
  States: {
    WhichTarget: { Type: 'Choice', Choices: [{ Variable: '$.table', IsPresent: true, Next: 'SweepTable' }], Default: 'NotATable' },
    NotATable: { Type: 'Fail', Error: 'NotATable', Cause: 'the S3 branch is not part of this test' },
    SweepTable: {
      Type: 'Map',
      ItemsPath: '$.segments',
      ItemSelector: { 'keyring.$': '$.keyring', 'table.$': '$.table', 'mode.$': '$.mode', 'totalSegments.$': '$.totalSegments', 'segment.$': '$$.Map.Item.Value' },
      ItemProcessor: {
        ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' },
        StartAt: 'Invoke',
        States: {
          Invoke: invoke('More'),
          More: { Type: 'Choice', Choices: [{ Variable: '$.result.cursor', IsPresent: true, Next: 'Resume' }], Default: 'Done' },
          Resume: {
            Type: 'Pass',
            Parameters: { 'keyring.$': '$.result.keyring', 'table.$': '$.result.table', 'mode.$': '$.result.mode', 'segment.$': '$.result.segment', 'totalSegments.$': '$.result.totalSegments', 'cursor.$': '$.result.cursor' },
            Next: 'Invoke',
          },
          Done: { Type: 'Succeed' },
        },
      },
      ToleratedFailurePercentage: 0,
      MaxConcurrency: 2,
      End: true,
    },
  },
};

const world = new TwinWorld();
world.roles.set('SweepRole', { logicalId: 'SweepRole', name: 'SweepRole', arn: ROLE_ARN, trust: { Statement: [] }, policies: [], accessKeyId: 'AKIATWINTABLESWEEP01', secretAccessKey: 'sweep-secret' });
world.stateMachines.set('TableSweep', { logicalId: 'TableSweep', name: 'TableSweep', arn: `arn:aws:states:us-east-1:${TWIN_ACCOUNT}:stateMachine:TableSweep`, roleArn: ROLE_ARN, definition: DEFINITION });

interface SegmentEvent { keyring: string; table: string; mode: string; segment: number; totalSegments: number; cursor?: string }

/** A fake reencrypt function: one page per call, returns a cursor until the segment's pages are done. */
function makeTwin(failSegment?: number): { sfn: TwinStepFunctions; events: SegmentEvent[] } {
  const events: SegmentEvent[] = [];
  const sfn = new TwinStepFunctions({
    world, proxyUrl: 'http://127.0.0.1:9', clock: new SimClock(), authorizer: { authorize: () => Promise.resolve({ allowed: true, reason: 'test' }) },
    invokeLambda: (_fn, payload): Promise<LambdaInvokeResult> => {
      const e = payload as SegmentEvent;
      events.push(e);
      if (e.segment === failSegment) return Promise.resolve({ statusCode: 200, errorType: 'BackendError', payload: { errorType: 'BackendError', errorMessage: 'table unavailable' } });
      const page = e.cursor === undefined ? 1 : Number(e.cursor) + 1;
      const { cursor: _drop, ...rest } = e;
      const out = { ...rest, counts: { migrated: 1 }, ...(page < pagesOf(e.segment) ? { cursor: String(page) } : {}) };
      return Promise.resolve({ statusCode: 200, payload: out });
    },
  });
  return { sfn, events };
}

const INPUT = { keyring: 'pii', table: 'app-records', mode: 'rewrap', totalSegments: TOTAL, segments: Array.from({ length: TOTAL }, (_, i) => i) };
const SM_ARN = `arn:aws:states:us-east-1:${TWIN_ACCOUNT}:stateMachine:TableSweep`;

describe('the DynamoDB sweep shape in the twin interpreter', () => {
  it('accepts the definition (asl-validator)', () => {
    const { sfn } = makeTwin();
    expect(sfn.validateDefinition(DEFINITION)).toMatchObject({ isValid: true });
  });

  it('fans out one child per segment with ItemSelector fields and $$.Map.Item.Value, and loops on the cursor', async () => {
    const { sfn, events } = makeTwin();
    const { executionArn } = sfn.startExecution(SM_ARN, JSON.stringify(INPUT));
    const done = await sfn.waitForExecution(executionArn);
    expect(done.status).toBe('SUCCEEDED');
    const record = sfn.executionRecord(executionArn);
    expect(record.mapRuns).toHaveLength(1);
    expect(record.mapRuns[0]).toMatchObject({ itemCount: TOTAL, status: 'SUCCEEDED' });
    expect(record.childExecutions.map((c) => c.input)).toEqual(expect.arrayContaining(INPUT.segments.map((segment) => ({ keyring: 'pii', table: 'app-records', mode: 'rewrap', totalSegments: TOTAL, segment }))));
    for (const segment of INPUT.segments) {
      const calls = events.filter((e) => e.segment === segment);
      // The first call has no cursor; each next one carries the cursor the previous call returned.
      expect(calls.map((e) => e.cursor)).toEqual(Array.from({ length: pagesOf(segment) }, (_, i) => (i === 0 ? undefined : String(i))));
      for (const e of calls) expect(e).toMatchObject({ keyring: 'pii', table: 'app-records', mode: 'rewrap', totalSegments: TOTAL });
    }
  });

  it('runs the CDK shape too: payload-only Task (function ARN as Resource) and a pass-through Pass', async () => {
    // The answer IS the next event (H5a's construct): no ResultSelector, Pass without Parameters.
    const processor = {
      ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' },
      StartAt: 'Invoke',
      States: {
        Invoke: { Type: 'Task', Resource: FN_ARN, Next: 'More' },
        More: { Type: 'Choice', Choices: [{ Variable: '$.cursor', IsPresent: true, Next: 'NextPage' }], Default: 'Done' },
        NextPage: { Type: 'Pass', Next: 'Invoke' },
        Done: { Type: 'Succeed' },
      },
    };
    const definition = { ...DEFINITION, States: { ...DEFINITION.States, SweepTable: { ...DEFINITION.States.SweepTable, ItemProcessor: processor } } };
    world.stateMachines.set('TableSweepCdk', { logicalId: 'TableSweepCdk', name: 'TableSweepCdk', arn: `${SM_ARN}Cdk`, roleArn: ROLE_ARN, definition });
    const { sfn, events } = makeTwin();
    expect(sfn.validateDefinition(definition)).toMatchObject({ isValid: true });
    const done = await sfn.waitForExecution(sfn.startExecution(`${SM_ARN}Cdk`, JSON.stringify(INPUT)).executionArn);
    expect(done.status).toBe('SUCCEEDED');
    for (const segment of INPUT.segments) expect(events.filter((e) => e.segment === segment)).toHaveLength(pagesOf(segment));
  });

  it('fails the execution (tolerated 0%) when one segment fails', async () => {
    const { sfn } = makeTwin(2);
    const { executionArn } = sfn.startExecution(SM_ARN, JSON.stringify(INPUT));
    const done = await sfn.waitForExecution(executionArn);
    expect(done.status).toBe('FAILED');
    expect(done.error).toBe('States.ExceedToleratedFailureThreshold');
  });
});
