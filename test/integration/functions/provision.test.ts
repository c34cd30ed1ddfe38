/**
 * The provision function (CloudFormation custom resource provider of the keyrings) on moto KMS
 * and S3, answering to a loopback HTTP server that stands in for the presigned ResponseURL.
 *
 * Request shapes: "Custom resource request objects" (CloudFormation User Guide,
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-requests.html);
 * response fields: "Custom resource response objects" (crpg-ref-responses.html); the PUT with an
 * empty content-type: the "cfn-response module" page of the same guide.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CreateKeyCommand } from '@aws-sdk/client-kms';
import { keyringResourceProperties } from '../../../infra/constructs/keyring-provisioning';
import { resolveRekeyProps } from '../../../infra/props';
import { createProvisionHandler, type ProvisionAnswer } from '../../../shared/lambda/provision-handler';
import { runProvision } from '../../../shared/usecases/provision';
import { createHarness, lambdaContext, type Harness } from './support/harness';

interface ReceivedPut {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Record<string, unknown>;
}

/** A loopback server recording every request; answers `status()` (200 unless changed). */
async function responseServer(): Promise<{ server: Server; url: string; puts: ReceivedPut[]; status: { code: number } }> {
  const puts: ReceivedPut[] = [];
  const status = { code: 200 };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      puts.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: text.length > 0 ? (JSON.parse(text) as Record<string, unknown>) : {} });
      res.statusCode = status.code;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://127.0.0.1:${port}/cfn-response?X-Amz-Signature=abc`, puts, status };
}

const STACK_ID = 'arn:aws:cloudformation:us-east-1:123456789012:stack/Rekey/1d3f0e60-0000-11ef-8000-0a1b2c3d4e5f';

/**
 * A keyring's resource properties. Quiet and DestroyAfterRetention only when given: without them
 * the properties are those of a template synthesized before the two fields existed.
 */
function properties(
  keyring: string,
  policy: { rotateEvery?: string; grace?: string; propagation?: string; retention?: string; quiet?: string; destroyAfterRetention?: string } = {},
): Record<string, string> {
  return {
    ServiceToken: 'arn:aws:lambda:us-east-1:123456789012:function:Rekey-provision',
    Keyring: keyring,
    RotateEvery: policy.rotateEvery ?? '30d',
    Grace: policy.grace ?? '7d',
    Propagation: policy.propagation ?? '15m',
    Retention: policy.retention ?? '30d',
    ...(policy.quiet === undefined ? {} : { Quiet: policy.quiet }),
    ...(policy.destroyAfterRetention === undefined ? {} : { DestroyAfterRetention: policy.destroyAfterRetention }),
    Sensitivity: 'high',
  };
}

/** The properties the stack writes for a keyring of this `cdk.json` entry (infra/props.ts → keyring-provisioning.ts). */
function deployedProperties(keyring: Record<string, unknown>): Record<string, string> {
  const [resolved] = resolveRekeyProps({ keyrings: [keyring] }).keyrings;
  if (resolved === undefined) throw new Error('no keyring resolved');
  return { ServiceToken: 'arn:aws:lambda:us-east-1:123456789012:function:Rekey-provision', ...keyringResourceProperties(resolved) };
}

const DAY = 86_400;

function request(type: 'Create' | 'Update' | 'Delete', responseUrl: string, props: Record<string, string>, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    RequestType: type,
    ServiceToken: props['ServiceToken'],
    ResponseURL: responseUrl,
    StackId: STACK_ID,
    RequestId: `req-${type}-${Math.random().toString(36).slice(2)}`,
    ResourceType: 'Custom::RekeyKeyring',
    LogicalResourceId: 'KeyringsKeyringpii58AC3D3A',
    ResourceProperties: props,
    ...extra,
  };
}

describe('provision function (moto KMS + S3, loopback ResponseURL)', () => {
  let h: Harness;
  let srv: Awaited<ReturnType<typeof responseServer>>;
  let kmsCommands: string[];
  let handler: ReturnType<typeof createProvisionHandler>;

  beforeEach(async () => {
    h = await createHarness({ createKeyring: false });
    srv = await responseServer();
    kmsCommands = [];
    h.clients.kms.middlewareStack.add(
      (next, context) => async (args) => {
        kmsCommands.push(String(context.commandName));
        return next(args);
      },
      { step: 'initialize', name: 'recordKmsCommands' },
    );
    handler = createProvisionHandler({ run: runProvision, services: () => h.services, logger: h.deps.logger, metrics: h.metrics, responder: { allowLoopbackHttp: true, timeoutMs: 2000, attempts: 2 } });
  });
  afterEach(async () => {
    await h?.close();
    await new Promise<void>((resolve) => srv.server.close(() => resolve()));
  });

  const invoke = (event: unknown): Promise<ProvisionAnswer> => handler(event, lambdaContext('rekey-provision'));

  describe('Create', () => {
    it('creates the keyring with its policy, version 1 active, without ever asking KMS for plaintext', async () => {
      // Prepare
      const event = request('Create', srv.url, properties(h.keyring));
      // Act
      const answer = await invoke(event);
      // Assess
      const catalog = await h.services.keyrings.get(h.keyring);
      expect(catalog.policy).toEqual({ rotateEverySeconds: 30 * DAY, graceSeconds: 7 * DAY, propagationSeconds: 900, retentionSeconds: 30 * DAY, quietSeconds: 7 * DAY, destroyAfterRetention: false });
      expect(catalog.versions.map((v) => [v.version, v.state, v.wrappingKeyId])).toEqual([[1, 'active', h.keyArn]]);
      expect(kmsCommands).toEqual(['GenerateDataKeyWithoutPlaintextCommand']);
      expect(answer.delivered).toBe(true);
      expect(srv.puts).toHaveLength(1);
      expect(srv.puts[0]).toMatchObject({ method: 'PUT', url: '/cfn-response?X-Amz-Signature=abc' });
      expect(srv.puts[0]?.headers['content-type']).toBe('');
      expect(srv.puts[0]?.body).toEqual({
        Status: 'SUCCESS',
        Reason: `keyring '${h.keyring}' created`,
        PhysicalResourceId: h.keyring,
        StackId: STACK_ID,
        RequestId: event['RequestId'],
        LogicalResourceId: 'KeyringsKeyringpii58AC3D3A',
        Data: { Keyring: h.keyring, Outcome: 'created', ActiveVersion: '1' },
      });
    });

    it('is idempotent: a repeated Create with the same policy writes nothing and calls no KMS', async () => {
      // Prepare
      await invoke(request('Create', srv.url, properties(h.keyring)));
      const before = await h.snapshot();
      kmsCommands.length = 0;
      // Act
      await invoke(request('Create', srv.url, properties(h.keyring)));
      // Assess
      expect(await h.snapshot()).toBe(before);
      expect(kmsCommands).toEqual([]);
      expect(srv.puts[1]?.body).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: h.keyring, Data: { Outcome: 'unchanged', ActiveVersion: '1' } });
    });

    it('answers two concurrent Creates of one keyring with one version 1 (the loser finds it created)', async () => {
      // Prepare
      // S3 decides a conditional PutObject atomically; moto checks If-None-Match, then writes,
      // without a lock, so two racing creates can both pass its check. Serializing the
      // conditional writes (only those) gives moto S3's atomicity and leaves the race itself:
      // the loser's write, or its read before it, must find the winner's catalog.
      let tail: Promise<unknown> = Promise.resolve();
      h.clients.s3.middlewareStack.add(
        (next, context) => async (args) => {
          if (context.commandName !== 'PutObjectCommand' || (args.input as { IfNoneMatch?: string }).IfNoneMatch === undefined) return next(args);
          const run = tail.then(() => next(args));
          tail = run.catch(() => undefined);
          return run;
        },
        { step: 'initialize', name: 'atomicConditionalPut' },
      );
      const events = [request('Create', srv.url, properties(h.keyring)), request('Create', srv.url, properties(h.keyring))];
      // Act
      await Promise.all(events.map((e) => invoke(e)));
      // Assess
      const outcomes = srv.puts.map((p) => [p.body['Status'], (p.body['Data'] as Record<string, string>)['Outcome']]).sort();
      expect(outcomes).toEqual([['SUCCESS', 'created'], ['SUCCESS', 'unchanged']]);
      expect((await h.services.keyrings.get(h.keyring)).versions.map((v) => v.version)).toEqual([1]);
    });

    it('brings an existing keyring with another policy to the template policy, keeping its versions', async () => {
      // Prepare
      await h.services.keyrings.createKeyring(h.keyring, { rotateEverySeconds: 86_400 }, { actor: 'test' });
      await h.services.keyrings.rotate(h.keyring, { actor: 'test', reason: 'second version' });
      const versions = (await h.services.keyrings.get(h.keyring)).versions;
      // Act
      await invoke(request('Create', srv.url, properties(h.keyring, { rotateEvery: '90d' })));
      // Assess
      const catalog = await h.services.keyrings.get(h.keyring);
      expect(catalog.policy.rotateEverySeconds).toBe(90 * 86_400);
      expect(catalog.versions).toEqual(versions);
      expect(srv.puts[0]?.body).toMatchObject({ Status: 'SUCCESS', Data: { Outcome: 'updated' } });
    });

    it('lands a cdk.json keyring that opts in to destruction with a 1-day quiet period in the catalog policy', async () => {
      // Prepare: the properties exactly as the stack synthesizes them from the cdk.json entry.
      const props = deployedProperties({ name: h.keyring, rotateEvery: '30d', quiet: '1d', destroyAfterRetention: true });
      // Act
      await invoke(request('Create', srv.url, props));
      // Assess
      expect(props).toMatchObject({ Quiet: '1d', DestroyAfterRetention: 'true' });
      const catalog = await h.services.keyrings.get(h.keyring);
      expect(catalog.policy).toEqual({ rotateEverySeconds: 30 * DAY, graceSeconds: 7 * DAY, propagationSeconds: 600, retentionSeconds: 30 * DAY, quietSeconds: DAY, destroyAfterRetention: true });
      expect(srv.puts[0]?.body).toMatchObject({ Status: 'SUCCESS', Data: { Outcome: 'created' } });
    });

    it('deploys a cdk.json keyring that names neither field with a 7-day quiet period and no destruction', async () => {
      // Prepare
      const props = deployedProperties({ name: h.keyring });
      // Act
      await invoke(request('Create', srv.url, props));
      // Assess
      expect(props).toMatchObject({ Quiet: '7d', DestroyAfterRetention: 'false' });
      expect((await h.services.keyrings.get(h.keyring)).policy).toMatchObject({ quietSeconds: 7 * DAY, destroyAfterRetention: false });
    });

    it('brings an existing keyring that destroys to the template policy that does not: the opt-in ends with the template', async () => {
      // Prepare: created (say by hand) with destruction on and no quiet period.
      await h.services.keyrings.createKeyring(h.keyring, { rotateEverySeconds: 30 * DAY, propagationSeconds: 900, quietSeconds: 0, destroyAfterRetention: true }, { actor: 'test' });
      // Act
      await invoke(request('Create', srv.url, properties(h.keyring)));
      // Assess
      expect((await h.services.keyrings.get(h.keyring)).policy).toMatchObject({ quietSeconds: 7 * DAY, destroyAfterRetention: false });
      expect(srv.puts[0]?.body).toMatchObject({ Status: 'SUCCESS', Data: { Outcome: 'updated' } });
    });

    it('refuses (FAILED, nothing written) an existing keyring whose versions another KMS key wraps: a removed keyring added back', async () => {
      // Prepare: the keyring exists under key A; the stack now names a new key B for it, as
      // CloudFormation does when a keyring removed from the configuration (A retained) comes back.
      await h.services.keyrings.createKeyring(h.keyring, undefined, { actor: 'test' });
      const oldKey = h.config.keyringKeys[h.keyring] ?? '';
      const newKey = (await h.clients.kms.send(new CreateKeyCommand({ Description: 'the re-added keyring key' }))).KeyMetadata?.Arn ?? '';
      const readded = createProvisionHandler({
        run: runProvision,
        services: () => ({ ...h.services, config: { ...h.config, keyringKeys: { [h.keyring]: newKey } } }),
        logger: h.deps.logger,
        metrics: h.metrics,
        responder: { allowLoopbackHttp: true, timeoutMs: 2000, attempts: 2 },
      });
      const before = await h.snapshot();
      kmsCommands.length = 0;
      // Act
      await readded(request('Create', srv.url, properties(h.keyring, { rotateEvery: '90d' })), lambdaContext('rekey-provision'));
      // Assess
      expect(await h.snapshot()).toBe(before);
      expect(kmsCommands).toEqual([]);
      expect(srv.puts[0]?.body).toMatchObject({ Status: 'FAILED', PhysicalResourceId: h.keyring });
      expect(String(srv.puts[0]?.body['Reason'])).toContain(`VALIDATION: keyring '${h.keyring}' exists with versions 1 wrapped by KMS key ${oldKey}, not by this stack's key ${newKey}`);
    });
  });

  describe('Update', () => {
    it('replaces the policy with one compare-and-swap and never touches versions', async () => {
      // Prepare
      await invoke(request('Create', srv.url, properties(h.keyring)));
      await h.services.keyrings.rotate(h.keyring, { actor: 'test', reason: 'pending version' });
      const before = await h.services.keyrings.get(h.keyring);
      kmsCommands.length = 0;
      // Act
      await invoke(request('Update', srv.url, properties(h.keyring, { grace: '14d', retention: '90d' }), { PhysicalResourceId: h.keyring, OldResourceProperties: properties(h.keyring) }));
      // Assess
      const after = await h.services.keyrings.get(h.keyring);
      expect(after.policy).toEqual({ rotateEverySeconds: 30 * DAY, graceSeconds: 14 * DAY, propagationSeconds: 900, retentionSeconds: 90 * DAY, quietSeconds: 7 * DAY, destroyAfterRetention: false });
      expect(after.versions).toEqual(before.versions);
      expect(after.generation).toBe(before.generation + 1);
      expect(kmsCommands).toEqual([]);
      expect(srv.puts[1]?.body).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: h.keyring, Data: { Outcome: 'updated' } });
    });

    it('changes the quiet period and the destruction opt-in like any policy field, and turns them back to the defaults when the template drops them', async () => {
      // Prepare
      const old = properties(h.keyring);
      await invoke(request('Create', srv.url, old));
      const opted = properties(h.keyring, { quiet: '1d', destroyAfterRetention: 'true' });
      // Act
      await invoke(request('Update', srv.url, opted, { PhysicalResourceId: h.keyring, OldResourceProperties: old }));
      const optedIn = await h.services.keyrings.get(h.keyring);
      await invoke(request('Update', srv.url, old, { PhysicalResourceId: h.keyring, OldResourceProperties: opted }));
      // Assess
      expect(optedIn.policy).toMatchObject({ quietSeconds: DAY, destroyAfterRetention: true });
      const after = await h.services.keyrings.get(h.keyring);
      expect(after.policy).toMatchObject({ quietSeconds: 7 * DAY, destroyAfterRetention: false });
      expect(after.generation).toBe(optedIn.generation + 1);
      expect(srv.puts.map((p) => (p.body['Data'] as Record<string, string>)['Outcome'])).toEqual(['created', 'updated', 'updated']);
    });

    it('answers the first Update after an upgrade (the template now spells out the defaults) unchanged, writing nothing', async () => {
      // Prepare: provisioned from a template without Quiet and DestroyAfterRetention.
      const old = properties(h.keyring);
      await invoke(request('Create', srv.url, old));
      const before = await h.snapshot();
      // Act
      await invoke(request('Update', srv.url, properties(h.keyring, { quiet: '7d', destroyAfterRetention: 'false' }), { PhysicalResourceId: h.keyring, OldResourceProperties: old }));
      // Assess
      expect(await h.snapshot()).toBe(before);
      expect(srv.puts[1]?.body).toMatchObject({ Status: 'SUCCESS', Data: { Outcome: 'unchanged' } });
    });

    it('answers FAILED (and creates nothing) when the keyring to update does not exist', async () => {
      // Prepare
      const before = await h.snapshot();
      // Act
      await invoke(request('Update', srv.url, properties(h.keyring), { PhysicalResourceId: h.keyring, OldResourceProperties: properties(h.keyring, { grace: '1d' }) }));
      // Assess
      expect(await h.snapshot()).toBe(before);
      expect(srv.puts[0]?.body).toMatchObject({ Status: 'FAILED', PhysicalResourceId: h.keyring, Reason: expect.stringContaining('UNKNOWN_KEYRING') });
      expect(String(srv.puts[0]?.body['Reason'])).toContain('log stream test');
    });
  });

  describe('Delete', () => {
    it('keeps the catalog, versions and key and says so', async () => {
      // Prepare
      await invoke(request('Create', srv.url, properties(h.keyring)));
      const before = await h.snapshot();
      // Act
      await invoke(request('Delete', srv.url, properties(h.keyring), { PhysicalResourceId: h.keyring }));
      // Assess
      expect(await h.snapshot()).toBe(before);
      expect(srv.puts[1]?.body).toMatchObject({
        Status: 'SUCCESS',
        PhysicalResourceId: h.keyring,
        Reason: expect.stringContaining('never deletes its catalog, versions or KMS key'),
        Data: { Keyring: h.keyring, Outcome: 'kept' },
      });
    });
  });

  describe('bad requests', () => {
    it('answers FAILED with the offending field for a malformed request, changing nothing', async () => {
      // Prepare
      const before = await h.snapshot();
      const event = request('Create', srv.url, { ...properties(h.keyring), RotateEvery: 'soon', Colour: 'blue' });
      // Act
      const answer = await invoke(event);
      // Assess
      expect(await h.snapshot()).toBe(before);
      expect(answer).toMatchObject({ delivered: true, response: { Status: 'FAILED' } });
      expect(srv.puts[0]?.body).toMatchObject({ Status: 'FAILED', PhysicalResourceId: h.keyring, StackId: STACK_ID, RequestId: event['RequestId'] });
      expect(String(srv.puts[0]?.body['Reason'])).toMatch(/ResourceProperties\.RotateEvery: must be a duration/);
      expect(String(srv.puts[0]?.body['Reason'])).toContain("unexpected field 'Colour'");
    });

    it.each([
      ['a DestroyAfterRetention that is not true or false', { DestroyAfterRetention: 'yes' }, /ResourceProperties\.DestroyAfterRetention: must be 'true' or 'false'/],
      ['a Quiet that is not a duration', { Quiet: 'a week' }, /ResourceProperties\.Quiet: must be a duration/],
    ])('answers FAILED, creating nothing, for %s', async (_what, change, reason) => {
      // Prepare
      const before = await h.snapshot();
      // Act
      await invoke(request('Create', srv.url, { ...properties(h.keyring), ...change }));
      // Assess
      expect(await h.snapshot()).toBe(before);
      expect(srv.puts[0]?.body).toMatchObject({ Status: 'FAILED', PhysicalResourceId: h.keyring });
      expect(String(srv.puts[0]?.body['Reason'])).toMatch(reason);
    });

    it('answers FAILED for an unknown request type, with the logical id when no keyring can be named', async () => {
      // Prepare
      const event = { ...request('Create', srv.url, properties('NOT A NAME')), RequestType: 'Rename' };
      // Act
      await invoke(event);
      // Assess
      expect(srv.puts[0]?.body).toMatchObject({ Status: 'FAILED', PhysicalResourceId: 'KeyringsKeyringpii58AC3D3A', Reason: expect.stringContaining('RequestType') });
    });

    it('answers nothing (and fails no invocation) for a request without a ResponseURL', async () => {
      // Prepare
      const { ResponseURL: _dropped, ...event } = request('Create', srv.url, properties(h.keyring));
      // Act
      const answer = await invoke(event);
      // Assess
      expect(answer).toEqual({ delivered: false });
      expect(srv.puts).toHaveLength(0);
      await expect(h.services.keyrings.get(h.keyring)).rejects.toMatchObject({ code: 'UNKNOWN_KEYRING' });
    });

    it('refuses a plain-http ResponseURL outside tests (https only by default) before doing anything', async () => {
      // Prepare
      const strict = createProvisionHandler({ run: runProvision, services: () => h.services, logger: h.deps.logger, metrics: h.metrics });
      const before = await h.snapshot();
      // Act
      const answer = await strict(request('Create', srv.url, properties(h.keyring)), lambdaContext('rekey-provision'));
      // Assess
      expect(answer).toEqual({ delivered: false });
      expect(srv.puts).toHaveLength(0);
      expect(await h.snapshot()).toBe(before);
      expect(h.metrics.values('HandlerFailures', { function: 'provision' })).toEqual([1]);
    });
  });

  describe('delivery', () => {
    it('fails the invocation when every PUT is refused, so Lambda retries the idempotent request', async () => {
      // Prepare
      srv.status.code = 500;
      // Act
      const run = invoke(request('Create', srv.url, properties(h.keyring)));
      // Assess
      await expect(run).rejects.toMatchObject({ code: 'BACKEND', message: expect.stringContaining('HTTP 500') });
      expect(srv.puts).toHaveLength(2);
      // The keyring was created; the retry finds it and answers SUCCESS (unchanged).
      srv.status.code = 200;
      await invoke(request('Create', srv.url, properties(h.keyring)));
      expect(srv.puts[2]?.body).toMatchObject({ Status: 'SUCCESS', Data: { Outcome: 'unchanged' } });
    });
  });
});
