/**
 * The Map state in Distributed mode ("Using Map state in Distributed mode",
 * https://docs.aws.amazon.com/step-functions/latest/dg/state-map-distributed.html): read the items
 * (./item-io.ts), ItemSelector, ItemBatcher
 * (https://docs.aws.amazon.com/step-functions/latest/dg/input-output-itembatcher.html: a batch is
 * `{ "BatchInput": {...}, "Items": [...] }`, at most MaxItemsPerBatch items and
 * MaxInputBytesPerBatch bytes, 256 KiB by default), one child workflow execution per batch with at
 * most MaxConcurrency running at once, ToleratedFailurePercentage / ToleratedFailureCount
 * (exceeded → States.ExceedToleratedFailureThreshold), and ResultWriter
 * (https://docs.aws.amazon.com/step-functions/latest/dg/input-output-resultwriter.html).
 */
import { randomUUID } from 'node:crypto';
import { StatesError, asStatesError } from './errors';
import { runMachine, ExecutionAborted, ExecutionTimedOut, type AslMachine, type AslState, type InterpreterHost } from './interpreter';
import { readItems, writeResult, type S3Access } from './item-io';
import { applyTemplate, readPath } from './json-path';
import type { ChildExecutionRecord, MapRunRecord, RunContext } from './types';

const DEFAULT_BATCH_BYTES = 256 * 1024;

function numberField(config: Record<string, unknown>, name: string, input: unknown): number | undefined {
  if (typeof config[name] === 'number') return config[name];
  const path = config[`${name}Path`];
  return typeof path === 'string' ? Number(readPath(path, input)) : undefined;
}

function makeBatches(state: AslState, selected: unknown[], input: unknown, ctx: RunContext): { inputs: unknown[]; sizes: number[] } {
  const batcher = state.ItemBatcher as Record<string, unknown> | undefined;
  if (batcher === undefined) return { inputs: selected, sizes: selected.map(() => 1) };
  const maxItems = numberField(batcher, 'MaxItemsPerBatch', input) ?? Infinity;
  const maxBytes = numberField(batcher, 'MaxInputBytesPerBatch', input) ?? DEFAULT_BATCH_BYTES;
  const batchInput = batcher.BatchInput === undefined ? undefined : applyTemplate(batcher.BatchInput, input, ctx.contextObject);
  const wrap = (items: unknown[]): unknown => (batchInput === undefined ? { Items: items } : { BatchInput: batchInput, Items: items });
  const inputs: unknown[] = [];
  const sizes: number[] = [];
  let current: unknown[] = [];
  for (const item of selected) {
    const candidate = [...current, item];
    if (current.length > 0 && (candidate.length > maxItems || Buffer.byteLength(JSON.stringify(wrap(candidate))) > maxBytes)) {
      inputs.push(wrap(current));
      sizes.push(current.length);
      current = [item];
    } else {
      current = candidate;
    }
  }
  if (current.length > 0) { inputs.push(wrap(current)); sizes.push(current.length); }
  return { inputs, sizes };
}

function tolerance(state: AslState, input: unknown): { count?: number; percentage?: number } {
  const count = numberField(state, 'ToleratedFailureCount', input);
  const percentage = numberField(state, 'ToleratedFailurePercentage', input);
  // Neither set: no failure is tolerated.
  return count === undefined && percentage === undefined ? { count: 0 } : { count, percentage };
}

/** One SUCCEEDED/FAILED/PENDING result entry, as the ResultWriter page's NONE transformation shows. */
function resultEntry(child: ChildExecutionRecord): Record<string, unknown> {
  const base = {
    ExecutionArn: child.executionArn,
    Input: JSON.stringify(child.input),
    InputDetails: { Included: true },
    Name: child.name,
    StartDate: child.startDate.toISOString(),
    StateMachineArn: child.stateMachineArn,
    Status: child.status,
    StopDate: child.stopDate?.toISOString(),
  };
  if (child.status === 'SUCCEEDED') return { ...base, Output: JSON.stringify(child.output), OutputDetails: { Included: true }, RedriveCount: 0, RedriveStatus: 'NOT_REDRIVABLE', RedriveStatusReason: 'Execution is SUCCEEDED and cannot be redriven' };
  return { ...base, Error: child.error, Cause: child.cause };
}

function transform(outputs: unknown[], how: string): unknown[] {
  return how === 'FLATTEN' ? outputs.flatMap((o) => (Array.isArray(o) ? o : [o])) : outputs;
}

/** Runs a DISTRIBUTED Map on its effective input; returns the state's result (before ResultSelector). */
export async function runDistributedMap(stateName: string, state: AslState, input: unknown, ctx: RunContext, host: InterpreterHost, access: S3Access): Promise<unknown> {
  const { world } = host;
  const smName = ctx.stateMachine.name;
  const label = typeof state.Label === 'string' ? state.Label : stateName;
  const mapRunId = randomUUID();
  const prefix = `arn:${world.partition}:states:${world.region}:${world.account}`;
  const mapRunArn = `${prefix}:mapRun:${smName}/${label}:${mapRunId}`;
  const childStateMachineArn = `${prefix}:stateMachine:${smName}/${label}`;

  const items = await readItems(state, input, ctx, access);
  const selector = state.ItemSelector ?? state.Parameters;
  const selected = items.map((value, index) => (selector === undefined ? value : applyTemplate(selector, input, { ...ctx.contextObject, Map: { Item: { Index: index, Value: value } } })));
  const { inputs, sizes } = makeBatches(state, selected, input, ctx);
  const run: MapRunRecord = { mapRunArn, state: stateName, itemCount: items.length, batchCount: inputs.length, maxInFlight: 0, status: 'RUNNING', resultKeys: [] };
  ctx.record.mapRuns.push(run);

  const processor = state.ItemProcessor as AslMachine;
  const limit = typeof state.MaxConcurrency === 'number' && state.MaxConcurrency > 0 ? state.MaxConcurrency : 10_000;
  const { count: toleratedCount, percentage: toleratedPercentage } = tolerance(state, input);
  const children: (ChildExecutionRecord | undefined)[] = new Array<ChildExecutionRecord | undefined>(inputs.length);
  const startElapsed = ctx.elapsedMs;
  let endElapsed = startElapsed;
  let failedItems = 0;
  let exceeded = false;
  let inFlight = 0;
  let next = 0;
  let fatal: unknown;

  const worker = async (): Promise<void> => {
    while (next < inputs.length && !exceeded && fatal === undefined) {
      const index = next++;
      const name = randomUUID();
      const child: ChildExecutionRecord = { executionArn: `${prefix}:execution:${smName}/${label}:${name}`, name, stateMachineArn: childStateMachineArn, mapRunArn, input: inputs[index], status: 'RUNNING', startDate: new Date(ctx.startMs + startElapsed) };
      children[index] = child;
      ctx.record.childExecutions.push(child);
      const childCtx: RunContext = {
        ...ctx, executionArn: child.executionArn, executionName: name, elapsedMs: startElapsed,
        contextObject: { Execution: { Id: child.executionArn, Name: name, Input: inputs[index], StartTime: child.startDate.toISOString(), RoleArn: ctx.stateMachine.roleArn }, StateMachine: { Id: childStateMachineArn, Name: `${smName}/${label}` } },
      };
      inFlight++;
      run.maxInFlight = Math.max(run.maxInFlight, inFlight);
      try {
        child.output = await runMachine(processor, inputs[index], childCtx, host);
        child.status = 'SUCCEEDED';
      } catch (err) {
        if (err instanceof ExecutionTimedOut || err instanceof ExecutionAborted) { fatal = err; child.status = 'ABORTED'; }
        else {
          const failure = asStatesError(err);
          child.status = 'FAILED';
          child.error = failure.error;
          child.cause = failure.cause;
          failedItems += sizes[index] ?? 1;
          const overCount = toleratedCount !== undefined && failedItems > toleratedCount;
          const overPercentage = toleratedPercentage !== undefined && (failedItems / items.length) * 100 > toleratedPercentage;
          if (overCount || overPercentage) exceeded = true;
        }
      } finally {
        inFlight--;
        child.stopDate = new Date(ctx.startMs + childCtx.elapsedMs);
        endElapsed = Math.max(endElapsed, childCtx.elapsedMs);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, inputs.length) }, worker));
  ctx.elapsedMs = endElapsed;
  if (fatal !== undefined) throw fatal;
  run.status = exceeded ? 'FAILED' : 'SUCCEEDED';

  const pending = inputs.flatMap((pendingInput, index): ChildExecutionRecord[] => (children[index] === undefined ? [{ executionArn: '', name: '', stateMachineArn: childStateMachineArn, mapRunArn, input: pendingInput, status: 'RUNNING', startDate: new Date(ctx.startMs + endElapsed) }] : []));
  const done = children.filter((c): c is ChildExecutionRecord => c !== undefined);
  const output = await writeResults(state, input, ctx, access, run, mapRunId, done, pending);
  if (exceeded) throw new StatesError('States.ExceedToleratedFailureThreshold', 'The specified tolerated failure threshold was exceeded');
  return output;
}

async function writeResults(state: AslState, input: unknown, ctx: RunContext, access: S3Access, run: MapRunRecord, mapRunId: string, done: ChildExecutionRecord[], pending: ChildExecutionRecord[]): Promise<unknown> {
  const writer = state.ResultWriter as Record<string, unknown> | undefined;
  const config = (writer?.WriterConfig ?? {}) as Record<string, unknown>;
  const succeeded = done.filter((c) => c.status === 'SUCCEEDED');
  const outputs = (): unknown[] => transform(succeeded.map((c) => c.output), String(config.Transformation ?? 'COMPACT'));
  if (writer === undefined || writer.Resource === undefined) return outputs();
  const params = applyTemplate(writer.Parameters ?? {}, input, ctx.contextObject) as Record<string, unknown>;
  const bucket = String(params.Bucket);
  const rawPrefix = typeof params.Prefix === 'string' ? params.Prefix : '';
  const folder = `${rawPrefix === '' || rawPrefix.endsWith('/') ? rawPrefix : `${rawPrefix}/`}${mapRunId}/`;
  const jsonl = config.OutputType === 'JSONL';
  const encode = (entries: unknown[]): string => (jsonl ? entries.map((e) => JSON.stringify(e)).join('\n') : JSON.stringify(entries));
  // Exported files use the NONE transformation unless WriterConfig says otherwise; failed ones always NONE.
  const successEntries = config.Transformation === undefined || config.Transformation === 'NONE' ? succeeded.map(resultEntry) : outputs();
  const groups: Record<'SUCCEEDED' | 'FAILED' | 'PENDING', unknown[]> = {
    SUCCEEDED: successEntries,
    FAILED: done.filter((c) => c.status !== 'SUCCEEDED').map(resultEntry),
    PENDING: pending.map((c) => ({ Input: JSON.stringify(c.input), InputDetails: { Included: true }, Status: 'PENDING' })),
  };
  const files: Record<string, { Key: string; Size: number }[]> = { FAILED: [], PENDING: [], SUCCEEDED: [] };
  for (const status of ['SUCCEEDED', 'FAILED', 'PENDING'] as const) {
    if (groups[status].length === 0) continue;
    const key = `${folder}${status}_0.${jsonl ? 'jsonl' : 'json'}`;
    const size = await writeResult(access, ctx, bucket, key, encode(groups[status]));
    files[status]?.push({ Key: key, Size: size });
  }
  // manifest.json: "Map Run metadata, such as export location, Map Run ARN, and information about
  // the result files" (ResultWriter page); field names as real manifests carry them.
  const manifestKey = `${folder}manifest.json`;
  await writeResult(access, ctx, bucket, manifestKey, JSON.stringify({ DestinationBucket: bucket, MapRunArn: run.mapRunArn, ResultFiles: files }));
  run.resultKeys.push(manifestKey, ...Object.values(files).flat().map((f) => f.Key));
  return { MapRunArn: run.mapRunArn, ResultWriterDetails: { Bucket: bucket, Key: manifestKey } };
}
