/**
 * The application client on AWS (moto_server): a keyring's catalog and KMS key made the way the
 * function tests make them (test/integration/functions/support/harness.ts), the client built
 * from the environment, the stack's outputs or the stack itself, and envelopes crossing between
 * the client and the functions' own wiring (buildAwsServices) in both directions.
 */
import { CloudFormationClient, CreateStackCommand } from '@aws-sdk/client-cloudformation';
import { S3RevocationLedger } from '../../../shared/adapters/aws/s3-revocation-ledger';
import { createRekeyClient } from '../../../shared/app/client';
import type { RekeyClient } from '../../../shared/app/client-types';
import { STACK_OUTPUTS } from '../../../shared/config/stack-outputs';
import { ContextMismatchError, ContextRequiredError, NotFoundError, RevokedVersionError } from '../../../shared/errors';
import { METRIC } from '../../../shared/vocabulary/metric-names';
import { createHarness, motoUrl, RecordingMetrics, uniqueName, type Harness } from '../functions/support/harness';

const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' };

/** The stack's outputs for the harness's deployment, as the real stack names them. */
function outputsOf(h: Harness): Record<string, string> {
  const outputs: Record<string, string> = {};
  for (const [key, variable] of Object.entries(STACK_OUTPUTS)) {
    if (variable !== undefined && h.env[variable] !== undefined) outputs[key] = h.env[variable];
  }
  return outputs;
}

describe('createRekeyClient on AWS', () => {
  let h: Harness;
  let metrics: RecordingMetrics;
  let client: RekeyClient;

  beforeAll(async () => {
    h = await createHarness();
    metrics = new RecordingMetrics();
    client = await createRekeyClient({ env: h.env, clients: { kms: h.clients.kms, s3: h.clients.s3 }, metrics });
  });

  afterAll(async () => {
    await client.close();
    await h.close();
  });

  it('encrypts what the functions decrypt, and decrypts what they encrypt', async () => {
    // Prepare
    const context = { customer: 'c-42' };
    const fromFunctions = await h.services.envelopes.encrypt(h.keyring, Buffer.from('written by reencrypt'), { context });
    // Act
    const fromClient = await client.encrypt(h.keyring, Buffer.from('written by the application'), { context });
    const readByFunctions = await h.services.envelopes.decrypt(fromClient, { context });
    const readByClient = await client.decrypt(fromFunctions, { context });
    // Assess
    expect(readByFunctions.plaintext.toString()).toBe('written by the application');
    expect(readByClient.plaintext.toString()).toBe('written by reencrypt');
    expect(client.inspect(fromClient)).toMatchObject({ keyring: h.keyring, version: 1, contextBound: true });
  });

  it('streams through the same keys', async () => {
    // Prepare
    const encryptor = client.encryptStream(h.keyring, { frameSize: 1024 });
    const chunks: Buffer[] = [];
    encryptor.on('data', (c: Buffer) => chunks.push(c));
    const ended = new Promise((resolve) => encryptor.on('end', resolve));
    // Act
    encryptor.end(Buffer.alloc(5000, 7));
    await ended;
    const { plaintext } = await h.services.envelopes.decrypt(Buffer.concat(chunks));
    // Assess
    expect(plaintext.equals(Buffer.alloc(5000, 7))).toBe(true);
  });

  it('counts decrypt failures by keyring and version and publishes them on flush', async () => {
    // Prepare
    const envelope = await client.encrypt(h.keyring, 'bound', { context: { customer: 'c-1' } });
    metrics.points.splice(0);
    client.flushMetrics();
    metrics.points.splice(0);
    // Act
    await expect(client.decrypt(envelope, { context: { customer: 'c-2' } })).rejects.toThrow();
    await expect(client.decrypt(envelope)).rejects.toThrow(ContextRequiredError);
    await client.decrypt(envelope, { context: { customer: 'c-1' } });
    client.flushMetrics();
    // Assess
    expect(metrics.values(METRIC.decryptAttempts, { keyring: h.keyring, version: 1 })).toEqual([3]);
    expect(metrics.values(METRIC.decryptFailures, { keyring: h.keyring, version: 1 })).toEqual([2]);
  });

  it('honours the revocation ledger: a marked version stops decrypting for the application', async () => {
    // Prepare: a second deployment, so the revocation leaves the shared one alone.
    const other = await createHarness();
    const app = await createRekeyClient({ env: other.env, clients: { kms: other.clients.kms, s3: other.clients.s3 }, metrics: new RecordingMetrics() });
    try {
      const envelope = await app.encrypt(other.keyring, 'before the compromise');
      // Act: only the ledger mark, as a revocation writes it first; the catalog document still says active.
      await new S3RevocationLedger({ client: other.clients.s3, bucket: other.buckets.escrow }).mark({ keyring: other.keyring, version: 1, at: other.now().toISOString(), reason: 'TEST-1', actor: 'test' });
      const fresh = await createRekeyClient({ env: other.env, clients: { kms: other.clients.kms, s3: other.clients.s3 }, metrics: new RecordingMetrics() });
      // Assess
      await expect(fresh.decrypt(envelope)).rejects.toThrow(RevokedVersionError);
      await expect(fresh.encrypt(other.keyring, 'after')).rejects.toThrow();
      await fresh.close();
    } finally {
      await app.close();
      await other.close();
    }
  });

  it('builds the same client from the stack outputs', async () => {
    // Prepare
    const fromOutputs = await createRekeyClient({ outputs: outputsOf(h), region: 'us-east-1', clients: { kms: h.clients.kms, s3: h.clients.s3 }, metrics: new RecordingMetrics() });
    // Act
    const envelope = await fromOutputs.encrypt(h.keyring, 'via outputs');
    // Assess
    expect((await client.decrypt(envelope)).plaintext.toString()).toBe('via outputs');
    await fromOutputs.close();
  });

  it('reads the outputs of a named stack, and names a missing stack', async () => {
    // Prepare
    const cloudFormation = new CloudFormationClient({ endpoint: motoUrl(), region: 'us-east-1', credentials, maxAttempts: 1 });
    const stackName = uniqueName('Rekey').replace(/[^A-Za-z0-9-]/g, '');
    const outputs = Object.fromEntries(Object.entries(outputsOf(h)).map(([k, v]) => [k, { Value: v }]));
    await cloudFormation.send(
      new CreateStackCommand({ StackName: stackName, TemplateBody: JSON.stringify({ Resources: { Handle: { Type: 'AWS::CloudFormation::WaitConditionHandle' } }, Outputs: outputs }) }),
    );
    // Act
    const fromStack = await createRekeyClient({ stackName, region: 'us-east-1', clients: { kms: h.clients.kms, s3: h.clients.s3, cloudFormation }, metrics: new RecordingMetrics() });
    const envelope = await fromStack.encrypt(h.keyring, 'via the stack');
    // Assess
    expect((await h.services.envelopes.decrypt(envelope)).plaintext.toString()).toBe('via the stack');
    await expect(createRekeyClient({ stackName: 'NoSuchRekey', region: 'us-east-1', clients: { cloudFormation } })).rejects.toThrow(NotFoundError);
    await fromStack.close();
    cloudFormation.destroy();
  });

  it('refuses an envelope whose stored context differs, as the functions do', async () => {
    // Prepare
    const envelope = await h.services.envelopes.encrypt(h.keyring, Buffer.from('stored'), { context: { customer: 'c-1' }, storeContext: true });
    // Act / Assess
    await expect(client.decrypt(envelope, { context: { customer: 'c-2' } })).rejects.toThrow(ContextMismatchError);
  });
});
