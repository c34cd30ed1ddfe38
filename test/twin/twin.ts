/**
 * The deployed-stack twin, assembled: synthesize (cached), stand the template up on a private
 * moto_server, put the authorizing proxy in front of it, run the bundles on Node 24, and drive
 * schedules, rules, S3 notifications, the Distributed Map, custom resources and alarms on a
 * simulated clock. Scenarios use only this facade and what docs/deploy.md tells a platform team
 * to do.
 */
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { EventBridgeClient, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import { KMSClient } from '@aws-sdk/client-kms';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { GetQueueAttributesCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { openAws } from '../../cli/aws-context';
import { run } from '../../cli/main';
import { roleClientConfig } from './application';
import { Authorizer } from './authz/authorize';
import { MotoGrantSource } from './authz/kms-grants';
import { TwinCloudTrail } from './drivers/cloudtrail';
import { runCustomResource } from './drivers/custom-resource';
import { TwinAlarms, alarmPeriod } from './drivers/alarms';
import { TwinEventBus, type ArchiveSpec } from './drivers/event-bus';
import { TwinS3Notifications } from './drivers/s3-notifications';
import { TwinScheduler } from './drivers/scheduler';
import type { TargetInvoker } from './drivers/types';
import { TwinStepFunctions, type LambdaInvokeResult } from './drivers/state-machine';
import { startPrivateMoto, type PrivateMoto } from './moto';
import { awsErrorReply, startTwinProxy, type AwsRequest, type ProxyReply } from './proxy';
import { LambdaRuntime, MetricStore, type InvokeOutcome } from './runtime/lambda-runtime';
import { extrasOf, standUp, updateStack, type StackChangeSummary } from './standup/standup';
import type { CustomResourceCall, CustomResourceResult } from './standup/types';
import { describeStacksReply, shiftDate } from './stack-api';
import { callerIdentityXml } from './request-map/sts-identity';
import { synthesizeTwin } from './synth';
import { twinTls } from './tls';
import { SimClock, TwinWorld, externalRole, type PolicyDocument, type RequestLogEntry, type TwinFunction, type TwinRole } from './world';

/** Options of {@link Twin.standUp}. */
export interface TwinOptions {
  /** Overrides of cdk.json's `rekey` context (keyrings, record targets, operator roles, ...). */
  readonly context?: Record<string, unknown>;
  /** Simulated start time. @default 2027-01-01T00:00:00Z */
  readonly start?: number;
  /**
   * Roles that exist before the deploy (applications, operators): in the stack's account, or with
   * `account` in another one (a consumer account), where a request needs its identity policy AND the
   * resource's policy (or a KMS grant) to be allowed, as AWS evaluates cross-account requests.
   */
  readonly roles?: readonly TwinRoleSpec[];
}

/** A role the scenario brings (see {@link TwinOptions.roles}). */
export interface TwinRoleSpec {
  readonly name: string;
  readonly policies: readonly PolicyDocument[];
  /** 12-digit account id. @default the stack's account (TWIN_ACCOUNT of ./world.ts) */
  readonly account?: string;
}

const ADMIN = { accessKeyId: 'testing', secretAccessKey: 'testing' };

export { externalRole } from './world';

/** One injected fault (see {@link Twin.faults}). */
export interface TwinFault {
  /** Signing name: `kms`, `s3`, `lambda`, ... */
  readonly service: string;
  /** Operation (`Decrypt`, `GenerateDataKeyWithoutPlaintext`, `PutObject`); absent: every operation. */
  readonly operation?: string;
  /** Only for this caller (role ARN). */
  readonly caller?: string;
  readonly status: number;
  /** AWS error code, e.g. `KMSInternalException`, `ThrottlingException`, `SlowDown`. */
  readonly code: string;
  readonly message?: string;
  remaining?: number;
  /** Requests this fault answered. */
  hits?: number;
}

/** What `Twin.cli` printed and returned. */
export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * One stood-up stack. Build with {@link Twin.standUp}; always {@link Twin.close}.
 *
 * @example
 * const twin = await Twin.standUp({ roles: [{ name: 'orders', policies: [] }] });
 * await twin.advance(3_600_000);
 * await twin.close();
 */
export class Twin {
  public readonly world = new TwinWorld();
  public readonly clock: SimClock;
  public readonly metrics = new MetricStore();
  public readonly archives: ArchiveSpec[] = [];
  public moto!: PrivateMoto;
  public proxyUrl = '';
  public runtime!: LambdaRuntime;
  public stepFunctions!: TwinStepFunctions;
  public scheduler!: TwinScheduler;
  public bus!: TwinEventBus;
  public notifications!: TwinS3Notifications;
  public alarms!: TwinAlarms;
  /** CloudTrail: every KMS request as a record, delivered to the default bus (drivers/cloudtrail.ts). */
  public cloudTrail!: TwinCloudTrail;
  public outdir = '';
  /**
   * Injected service faults (an outage, throttling): a matching request, once authorized, gets
   * this error instead of reaching moto. `remaining` counts down; absent means until removed.
   */
  public readonly faults: TwinFault[] = [];
  /** Failures of work the twin ran in the background (deliveries, notifications): scenarios assert it stays empty. */
  public readonly backgroundErrors: string[] = [];
  private authorizer!: Authorizer;
  private grants!: MotoGrantSource;
  private closeProxy: () => Promise<void> = async () => undefined;
  private readonly pending = new Set<Promise<unknown>>();
  private admin!: { sqs: SQSClient; sns: SNSClient };

  private constructor(options: TwinOptions) {
    this.clock = new SimClock(options.start);
    for (const r of options.roles ?? []) {
      const role = externalRole(this.world, r.name, r.policies, r.account);
      if (this.world.roles.has(role.arn)) throw new Error(`twin: role ${role.arn} given twice`);
      this.world.roles.set(role.arn, role);
    }
  }

  /** Synthesizes (cached), stands up and wires every part. */
  public static async standUp(options: TwinOptions = {}): Promise<Twin> {
    const twin = new Twin(options);
    try {
      await twin.start(options);
    } catch (err) {
      // A failed stand-up says what AWS denied on the way, as CloudTrail would; then nothing is left running.
      const denied = (process.env.TWIN_DEBUG === "1" ? twin.world.requestLog : twin.deniedRequests()).slice(-10).map((d) => `  ${d.status} ${d.caller} ${d.action} ${d.resources.join(',')}: ${d.reason ?? ''}`);
      await twin.close();
      throw new Error(`${(err as Error).message}${denied.length === 0 ? '' : `\ndenied requests:\n${denied.join('\n')}`}`, { cause: err });
    }
    return twin;
  }

  /** Requests the proxy denied so far (the twin's CloudTrail of AccessDenied). */
  public deniedRequests(): RequestLogEntry[] {
    return this.world.requestLog.filter((r) => !r.allowed);
  }

  /** The role with this name (template or external), or its ARN; with `account`, the one of that account. */
  public role(name: string, account?: string): TwinRole {
    for (const r of this.world.roles.values()) {
      if (account !== undefined && !r.arn.startsWith(`arn:${this.world.partition}:iam::${account}:`)) continue;
      if (r.name === name || r.logicalId === name || r.arn === name) return r;
    }
    throw new Error(`twin: no role ${name}${account === undefined ? '' : ` in account ${account}`}`);
  }

  /** The deployed function of a rekey function name (`rotate`, `grace-period`, ...), from the stack outputs. */
  public fn(rekeyName: string): TwinFunction {
    const names = JSON.parse(this.world.outputs.FunctionNames ?? '{}') as Record<string, string>;
    const name = names[rekeyName];
    const fn = name === undefined ? undefined : this.world.fn(name);
    if (fn === undefined) throw new Error(`twin: no deployed function ${rekeyName}`);
    return fn;
  }

  /** SDK client settings acting as `role` through the proxy at the simulated time. */
  public clientConfig(role: TwinRole): ReturnType<typeof roleClientConfig> {
    return roleClientConfig(role, this.proxyUrl, this.world.region, this.clock);
  }

  /**
   * Moves the simulated clock to `to`, firing every schedule occurrence in time order (or, with
   * `coalesce`, each schedule once at `to`: a documented speed-up, not AWS behaviour) and letting
   * every invocation, delivery and execution finish before the next occurrence; alarms are
   * evaluated after each step.
   */
  public async advanceTo(to: number, options: { coalesce?: boolean } = {}): Promise<void> {
    if (options.coalesce === true) {
      await this.scheduler.advanceTo(to, { coalesce: true });
      await this.settle();
      await this.alarms.evaluate(to);
      return;
    }
    const times = new Set<number>();
    for (const s of this.world.schedules.values()) {
      if (s.state === 'ENABLED') for (const t of this.scheduler.occurrences(s, this.clock.now(), to)) times.add(t);
    }
    // CloudWatch evaluates alarms every minute; the twin at least once in the period after each
    // step's data, or a datum of a period followed by no step is never evaluated. An evaluation at
    // u covers the period before floor(u / p): add the period's end only when no step does.
    const periods = new Set([...this.world.alarms.values()].map((a) => alarmPeriod(a.properties) * 1000));
    const steps = [...times];
    for (const t of [...steps, this.clock.now()]) {
      for (const p of periods) {
        const end = (Math.floor(t / p) + 1) * p;
        if (end <= to && !steps.some((u) => u >= end && u < end + p)) times.add(end);
      }
    }
    for (const t of [...times].sort((a, b) => a - b)) {
      await this.scheduler.advanceTo(t);
      await this.settle();
      await this.alarms.evaluate(t);
    }
    if (this.clock.now() < to) this.clock.set(to);
  }

  /** {@link advanceTo} by a duration. */
  public advance(ms: number, options: { coalesce?: boolean } = {}): Promise<void> {
    return this.advanceTo(this.clock.now() + ms, options);
  }

  /** Waits until nothing the twin started in the background is still running. */
  public async settle(): Promise<void> {
    for (let round = 0; round < 1000; round++) {
      await this.runtime.settled();
      if (this.pending.size === 0) return;
      await Promise.allSettled([...this.pending]);
    }
    throw new Error('twin: background work never settled');
  }

  /**
   * Runs the `rekey` CLI in AWS mode as `role`, through the proxy, with the process clock set to
   * the simulated time for the duration of the command.
   */
  public async cli(argv: readonly string[], role: TwinRole): Promise<CliResult> {
    // The command runs under a shifted Date (below) that already reads the simulated time: an
    // offset on top would sign every request that far in the future again.
    const config = { ...this.clientConfig(role), systemClockOffset: 0 };
    const clients = {
      cloudFormation: new CloudFormationClient(config),
      s3: new S3Client({ ...config, forcePathStyle: true }),
      kms: new KMSClient(config),
      lambda: new LambdaClient(config),
      eventBridge: new EventBridgeClient(config),
      sqs: new SQSClient({ ...config, useQueueUrlAsEndpoint: false }),
    };
    let stdout = '';
    let stderr = '';
    const out = process.stdout.write.bind(process.stdout);
    const err = process.stderr.write.bind(process.stderr);
    const capture = (sink: (t: string) => void) =>
      ((chunk: string | Uint8Array, ...rest: unknown[]) => {
        sink(Buffer.from(chunk).toString());
        (rest.find((r) => typeof r === 'function') as (() => void) | undefined)?.();
        return true;
      }) as typeof process.stdout.write;
    process.stdout.write = capture((t) => (stdout += t));
    process.stderr.write = capture((t) => (stderr += t));
    const restoreDate = shiftDate(this.clock.now() - Date.now());
    try {
      const code = await run(['--aws', '--region', this.world.region, '--stack', this.world.stackName, ...argv], {
        awsOpener: (o) => openAws({ ...o, clients }),
      });
      await this.settle();
      return { code, stdout, stderr };
    } finally {
      restoreDate();
      process.stdout.write = out;
      process.stderr.write = err;
      for (const c of Object.values(clients)) c.destroy();
    }
  }

  /** Redeploys with new `rekey` context (a changed cdk.json); returns what changed. */
  public async redeploy(context: Record<string, unknown>): Promise<StackChangeSummary> {
    const synth = await synthesizeTwin({ context, stackName: this.world.stackName });
    const summary = await updateStack({ template: synth.template, outdir: synth.outdir, motoUrl: this.moto.url, world: this.world, onCustomResource: (call) => this.customResource(call) });
    this.refreshArchives();
    await this.settle();
    return summary;
  }

  /** Stops every process and server the twin started. */
  public async close(): Promise<void> {
    await this.settle().catch(() => undefined);
    await this.runtime?.close();
    await this.closeProxy();
    this.grants?.close();
    this.admin?.sqs.destroy();
    this.admin?.sns.destroy();
    await this.moto?.stop();
  }

  private async start(options: TwinOptions): Promise<void> {
    const synth = await synthesizeTwin(options.context === undefined ? {} : { context: options.context });
    this.world.stackName = synth.stackName;
    this.outdir = synth.outdir;
    this.moto = await startPrivateMoto();
    this.grants = new MotoGrantSource({ endpoint: this.moto.url });
    this.authorizer = new Authorizer(this.world, this.grants);
    const proxy = await startTwinProxy({
      world: this.world,
      motoUrl: this.moto.url,
      authorizer: this.authorizer,
      grants: this.grants,
      now: () => this.clock.now(),
      hooks: { handle: (req) => this.serve(req), after: (req, reply) => this.observe(req, reply), denied: (req, reply) => this.observeDenied(req, reply) },
    });
    this.proxyUrl = proxy.url;
    this.closeProxy = () => proxy.close();
    const adminConfig = { endpoint: this.moto.url, region: this.world.region, credentials: ADMIN };
    this.admin = { sqs: new SQSClient(adminConfig), sns: new SNSClient(adminConfig) };
    this.runtime = new LambdaRuntime({ world: this.world, proxyUrl: proxy.url, motoUrl: this.moto.url, clock: this.clock, metrics: this.metrics });
    this.stepFunctions = new TwinStepFunctions({
      world: this.world,
      proxyUrl: proxy.url,
      clock: this.clock,
      authorizer: this.authorizer,
      invokeLambda: async (functionArn, payload) => toStepFunctionsResult(await this.runtime.invokeForStepFunctions(functionArn, payload)),
      metrics: this.metrics,
    });
    const invoker: TargetInvoker = {
      invokeLambdaAsync: async (functionArn, payload) => {
        this.background(this.runtime.invokeAsync(functionArn, payload), `async invoke of ${functionArn}`);
      },
      startExecution: async (arn, input, name) => {
        const { executionArn } = this.stepFunctions.startExecution(arn, input, name === undefined ? {} : { name });
        this.background(this.stepFunctions.waitForExecution(executionArn), `execution ${executionArn}`);
      },
      sendToQueue: async (queueArn, body, attributes) => {
        const queue = [...this.world.queues.values()].find((q) => q.arn === queueArn);
        if (queue === undefined) throw new Error(`twin: no queue ${queueArn}`);
        const messageAttributes = Object.fromEntries(Object.entries(attributes ?? {}).map(([k, v]) => [k, { DataType: 'String', StringValue: v }]));
        await this.admin.sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: body, ...(attributes === undefined ? {} : { MessageAttributes: messageAttributes }) }));
      },
      publish: async (topicArn, subject, message) => {
        await this.admin.sns.send(new PublishCommand({ TopicArn: topicArn, ...(subject === undefined ? {} : { Subject: subject.slice(0, 99) }), Message: message }));
      },
    };
    this.scheduler = new TwinScheduler({ world: this.world, clock: this.clock, authorizer: this.authorizer, invoker, settings: scheduleSettings(this.world) });
    this.bus = new TwinEventBus({ world: this.world, clock: this.clock, authorizer: this.authorizer, invoker, archives: this.archives });
    this.notifications = new TwinS3Notifications({ world: this.world, clock: this.clock, bus: this.bus });
    this.cloudTrail = new TwinCloudTrail({ world: this.world, bus: this.bus });
    this.alarms = new TwinAlarms({ world: this.world, clock: this.clock, metrics: this.metrics, authorizer: this.authorizer, invoker, queueDepth: (arn) => this.queueDepth(arn) });
    await standUp({ template: synth.template, outdir: synth.outdir, motoUrl: this.moto.url, world: this.world, onCustomResource: (call) => this.customResource(call) });
    this.refreshArchives();
    this.scheduler = new TwinScheduler({ world: this.world, clock: this.clock, authorizer: this.authorizer, invoker, settings: scheduleSettings(this.world) });
    await this.settle();
  }

  private async customResource(call: CustomResourceCall): Promise<CustomResourceResult> {
    // CloudFormation invokes a Lambda-backed custom resource asynchronously and waits for the PUT to ResponseURL.
    const seen = this.runtime.invocationLogs.length;
    const outcome = await runCustomResource(call, async (functionArn, event) => {
      this.background(this.runtime.invokeAsync(functionArn, event), `custom resource ${call.logicalId}`);
    }, { tls: twinTls() });
    if (outcome.status === 'FAILED') {
      // CloudFormation shows only the reason; the twin adds the provider's log lines, as the console links its log stream.
      const logs = this.runtime.invocationLogs.slice(seen).flatMap((l) => l.logs.map((x) => x.text));
      return { ...outcome, reason: `${outcome.reason ?? ''}\n--- provider logs ---\n${logs.join('\n').slice(0, 4000)}` };
    }
    return outcome;
  }

  private refreshArchives(): void {
    this.archives.length = 0;
    for (const a of extrasOf(this.world).archives) {
      const busName = TwinEventBus.busNameOf(a.sourceArn);
      this.archives.push({ name: a.name, busName, ...(a.pattern === undefined ? {} : { pattern: a.pattern as ArchiveSpec['pattern'] }) });
    }
  }

  private background(work: Promise<unknown>, what: string): void {
    const tracked = work.then(
      () => undefined,
      (err: unknown) => {
        this.backgroundErrors.push(`${what}: ${err instanceof Error ? err.message : String(err)}`);
      },
    );
    this.pending.add(tracked);
    void tracked.finally(() => this.pending.delete(tracked));
  }

  private async queueDepth(queueArn: string): Promise<number> {
    const queue = [...this.world.queues.values()].find((q) => q.arn === queueArn);
    if (queue === undefined) return 0;
    const res = await this.admin.sqs.send(new GetQueueAttributesCommand({ QueueUrl: queue.url, AttributeNames: ['ApproximateNumberOfMessages'] }));
    return Number(res.Attributes?.ApproximateNumberOfMessages ?? '0');
  }

  /** The requests the twin serves itself (after the proxy authorized them). */
  private async serve(req: AwsRequest): Promise<ProxyReply | undefined> {
    const caller = req.principal.kind === 'role' ? req.principal.arn : 'anonymous';
    const fault = this.faults.find((f) => f.service === req.service && (f.operation === undefined || f.operation === req.operation) && (f.caller === undefined || f.caller === caller) && (f.remaining ?? 1) > 0);
    if (fault !== undefined) {
      if (fault.remaining !== undefined) fault.remaining--;
      fault.hits = (fault.hits ?? 0) + 1;
      return awsErrorReply(req.service, fault.status, fault.code, fault.message ?? `${fault.code} (injected by the twin)`);
    }
    if (req.service === 'lambda' && req.operation === 'Invoke') return this.serveInvoke(req);
    if (req.service === 'states') {
      const { status, body } = await this.stepFunctions.serveStepFunctionsRequest(req.operation, req.params as Record<string, unknown>, caller);
      // An execution a function started (revoke's hand-off to the sweep) is background work too:
      // settle() waits for it as for the ones schedules and rules start.
      const started = req.operation === 'StartExecution' && status === 200 ? (body as { executionArn?: string }).executionArn : undefined;
      if (started !== undefined) this.background(this.stepFunctions.waitForExecution(started), `execution ${started}`);
      return { status, headers: { 'content-type': 'application/x-amz-json-1.0' }, body: Buffer.from(JSON.stringify(body)) };
    }
    if (req.service === 'events' && req.operation === 'PutEvents') {
      try {
        const res = await this.bus.putEvents((req.params.Entries ?? []) as PutEventsRequestEntry[], caller);
        return { status: 200, headers: { 'content-type': 'application/x-amz-json-1.1' }, body: Buffer.from(JSON.stringify(res)) };
      } catch (err) {
        return awsErrorReply('events', 400, (err as { code?: string }).code ?? 'InternalException', (err as Error).message);
      }
    }
    if (req.service === 'cloudformation' && req.operation === 'DescribeStacks') return this.describeStacks(req);
    if (req.service === 's3' && req.operation.endsWith('BucketNotificationConfiguration')) return this.bucketNotifications(req);
    // moto does not know the twin's access keys: answer as AWS does for the caller's role session.
    if (req.service === 'sts' && req.operation === 'GetCallerIdentity' && req.role !== undefined) return { status: 200, headers: { 'content-type': 'text/xml' }, body: Buffer.from(callerIdentityXml(req.role)) };
    return undefined;
  }

  private async serveInvoke(req: AwsRequest): Promise<ProxyReply> {
    const name = String(req.params.FunctionName ?? '');
    const fn = this.world.fn(name);
    if (fn === undefined) return awsErrorReply('lambda', 404, 'ResourceNotFoundException', `Function not found: ${name}`);
    const payload = req.raw.body.length === 0 ? {} : (JSON.parse(req.raw.body.toString('utf8')) as unknown);
    const type = req.raw.headers['x-amz-invocation-type'] ?? 'RequestResponse';
    if (type === 'Event') {
      this.background(this.runtime.invokeAsync(fn.arn, payload), `async invoke of ${fn.name}`);
      return { status: 202, headers: {}, body: Buffer.alloc(0) };
    }
    const outcome = await this.runtime.invokeSync(fn.arn, payload);
    if (outcome.serviceError !== undefined) return awsErrorReply('lambda', outcome.serviceError.statusCode, outcome.serviceError.name, outcome.serviceError.message);
    return {
      status: 200,
      headers: { 'content-type': 'application/json', 'x-amz-executed-version': '$LATEST', ...(outcome.functionError === undefined ? {} : { 'x-amz-function-error': outcome.functionError }) },
      body: Buffer.from(outcome.payloadText ?? 'null'),
    };
  }

  /**
   * S3 → EventBridge on/off, which moto drops: PutBucketNotificationConfiguration with an
   * `EventBridgeConfiguration` element turns the world's flag on (and moto keeps the rest);
   * GetBucketNotificationConfiguration of a bucket with the flag on answers the element
   * ("NotificationConfiguration", Amazon S3 API Reference: `EventBridgeConfiguration`, "Enables
   * delivery of events to Amazon EventBridge").
   */
  private bucketNotifications(req: AwsRequest): ProxyReply | undefined {
    const bucket = this.world.buckets.get(String(req.params.Bucket ?? ''));
    if (bucket === undefined) return undefined;
    if (req.operation === 'PutBucketNotificationConfiguration') {
      bucket.eventBridge = req.raw.body.toString('utf8').includes('<EventBridgeConfiguration');
      return undefined;
    }
    if (!bucket.eventBridge) return undefined;
    const xml = '<?xml version="1.0" encoding="UTF-8"?><NotificationConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><EventBridgeConfiguration></EventBridgeConfiguration></NotificationConfiguration>';
    return { status: 200, headers: { 'content-type': 'application/xml' }, body: Buffer.from(xml) };
  }

  private describeStacks(req: AwsRequest): ProxyReply {
    return describeStacksReply(this.world, String(req.params.StackName ?? this.world.stackName), this.clock.now());
  }

  /** A denied request: CloudTrail records it too, with the error code (KMS only, as {@link observe}). */
  private observeDenied(req: AwsRequest, reply: ProxyReply): void {
    if (TwinCloudTrail.covers(req)) this.background(this.cloudTrail.observe(req, reply), `CloudTrail ${req.operation} (denied)`);
  }

  /** S3 → EventBridge: an allowed write to a bucket with notifications on emits `Object Created`. */
  private observe(req: AwsRequest, reply: ProxyReply): void {
    // CloudTrail delivers to EventBridge asynchronously, after the call returned.
    if (TwinCloudTrail.covers(req)) this.background(this.cloudTrail.observe(req, reply), `CloudTrail ${req.operation}`);
    if (req.service !== 's3' || reply.status !== 200) return;
    const reason = S3_CREATE_OPERATIONS[req.operation];
    if (reason === undefined) return;
    const bucket = String(req.params.Bucket ?? '');
    const key = String(req.params.Key ?? '');
    if (!this.world.buckets.get(bucket)?.eventBridge) return;
    const versionId = reply.headers['x-amz-version-id'];
    const etag = reply.headers.etag ?? '';
    const size = Number(req.raw.headers['content-length'] ?? req.raw.body.length);
    const requester = req.principal.kind === 'role' ? this.world.account : 's3.amazonaws.com';
    this.background(this.notifications.notifyS3({ bucket, key, size, etag: etag.replace(/"/g, ''), requester, reason, ...(versionId === undefined ? {} : { versionId }) }), `S3 notification ${bucket}/${key}`);
  }
}

/** S3 operations that emit `Object Created`, with the event's `reason` (S3 EventBridge event message structure). */
const S3_CREATE_OPERATIONS: Readonly<Record<string, 'PutObject' | 'CopyObject' | 'CompleteMultipartUpload'>> = {
  PutObject: 'PutObject',
  CopyObject: 'CopyObject',
  CompleteMultipartUpload: 'CompleteMultipartUpload',
};

/** Step Functions' view of a Lambda Invoke (Lambda's error name becomes `Lambda.<name>`). */
function toStepFunctionsResult(outcome: InvokeOutcome): LambdaInvokeResult {
  return {
    statusCode: outcome.statusCode,
    payload: outcome.payload,
    ...(outcome.functionError === undefined ? {} : { functionError: outcome.functionError }),
    ...(outcome.serviceError === undefined ? {} : { errorType: outcome.serviceError.name }),
  };
}

/** StartDate and time zone of each schedule, as the template gives them. */
function scheduleSettings(world: TwinWorld): Record<string, { startDate?: number }> {
  const out: Record<string, { startDate?: number }> = {};
  for (const s of world.schedules.values()) {
    const start = (s as { startDate?: string | number }).startDate;
    if (start !== undefined) out[s.name] = { startDate: typeof start === 'number' ? start : Date.parse(start) };
  }
  return out;
}
