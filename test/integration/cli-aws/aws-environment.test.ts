/**
 * `rekey --aws` when AWS cannot be reached or used: an endpoint that accepts and never answers
 * (a real local listener), a closed port, no credentials, no region, a stack that does not exist
 * (moto) and refused calls (aws-sdk-client-mock answering AccessDenied). Each ends within seconds
 * as exactly one line on stderr saying what is wrong and what to do, nothing on stdout, and the
 * exit code of its kind (6 environment or backend, 4 not found).
 */
import { createServer, type Server, type Socket } from 'node:net';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { run } from '../../../cli/main';
import { openAws, type AwsModeClients } from '../../../cli/aws-context';
import type { AwsOpener } from '../../../cli/aws/register';
import { STACK_OUTPUTS } from '../../../infra/outputs';
import { freePort } from '../../support/services';
import { spawnCli } from '../cli/support/cli-harness';
import { motoUrl } from '../functions/support/harness';

interface Captured {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

/** Credentials that resolve (the SDK signs with them; no endpoint here checks them). */
const TEST_CREDENTIALS = { AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing' };

/** No credential source the SDK's default chain could find (env, files, SSO, process, web identity, container, IMDS). */
const NO_CREDENTIALS = {
  AWS_ACCESS_KEY_ID: undefined,
  AWS_SECRET_ACCESS_KEY: undefined,
  AWS_SESSION_TOKEN: undefined,
  AWS_PROFILE: undefined,
  AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/rekey-test/credentials',
  AWS_CONFIG_FILE: '/nonexistent/rekey-test/config',
  AWS_WEB_IDENTITY_TOKEN_FILE: undefined,
  AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: undefined,
  AWS_CONTAINER_CREDENTIALS_FULL_URI: undefined,
  AWS_EC2_METADATA_DISABLED: 'true',
};

/** Runs the CLI in-process with `env` set (undefined removes a variable), capturing both streams. */
async function cli(argv: readonly string[], env: Readonly<Record<string, string | undefined>>, awsOpener?: AwsOpener): Promise<Captured> {
  let stdout = '';
  let stderr = '';
  const saved = new Map(Object.keys(env).map((k) => [k, process.env[k]] as const));
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    stdout += Buffer.from(chunk).toString();
    (rest.find((r) => typeof r === 'function') as (() => void) | undefined)?.();
    return true;
  }) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => {
    stderr += Buffer.from(chunk).toString();
    return true;
  }) as typeof process.stderr.write;
  const started = Date.now();
  try {
    const code = await run(argv, awsOpener === undefined ? {} : { awsOpener });
    return { code, stdout, stderr, ms: Date.now() - started };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

/** Exactly one `rekey: ` line on stderr (a trailing "acted on" line of main aside), nothing on stdout. */
function reasonOf(r: Captured): string {
  expect(r.stdout).toBe('');
  const lines = r.stderr.trimEnd().split('\n').filter((l) => !l.startsWith('rekey: acted on '));
  expect(lines).toHaveLength(1);
  return lines[0] ?? '';
}

/** A TCP listener that accepts every connection and never sends a byte. */
async function silentListener(): Promise<{ url: string; accepted: () => number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server: Server = createServer((s) => {
    accepted += 1;
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    accepted: () => accepted,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('rekey --aws when AWS cannot be reached or used', () => {
  describe('an endpoint that accepts and never answers', () => {
    it('exits 6 within seconds with one line saying it did not answer in time and what to do', async () => {
      // Arrange
      const listener = await silentListener();
      try {
        // Act
        const r = await cli(['--aws', '--endpoint', listener.url, '--region', 'eu-west-1', 'status'], TEST_CREDENTIALS);
        // Assess
        expect(r.code).toBe(6);
        expect(reasonOf(r)).toBe(
          `rekey: ${listener.url} did not answer within 4 s (after the SDK's retries): check --endpoint, --region and your network, VPN or proxy, then retry`,
        );
        // The SDK really retried: one connection per attempt.
        expect(listener.accepted()).toBe(3);
        console.log(`silent endpoint: rekey --aws status answered in ${r.ms} ms`);
      } finally {
        await listener.close();
      }
    }, 30_000);
  });

  describe('an endpoint that accepts and never answers, through the launcher', () => {
    it('the spawned rekey process ends with exit 6 and the same one line', async () => {
      // Arrange
      const listener = await silentListener();
      try {
        const started = Date.now();
        // Act
        const r = await spawnCli(['--aws', '--endpoint', listener.url, '--region', 'eu-west-1', 'status'], { env: TEST_CREDENTIALS });
        // Assess
        expect(r.code).toBe(6);
        expect(r.stdout.toString()).toBe('');
        expect(r.stderr).toBe(`rekey: ${listener.url} did not answer within 4 s (after the SDK's retries): check --endpoint, --region and your network, VPN or proxy, then retry\n`);
        console.log(`silent endpoint: spawned rekey --aws status exited in ${Date.now() - started} ms`);
      } finally {
        await listener.close();
      }
    }, 30_000);
  });

  describe('a closed port', () => {
    it('exits 6 saying the connection was refused', async () => {
      // Arrange: a port nothing listens on.
      const url = `http://127.0.0.1:${await freePort()}`;
      // Act
      const r = await cli(['--aws', '--endpoint', url, '--region', 'eu-west-1', 'status'], TEST_CREDENTIALS);
      // Assess
      expect(r.code).toBe(6);
      expect(reasonOf(r)).toBe(`rekey: could not connect to ${url}: connection refused; check --endpoint and that the service listens there, then retry`);
    }, 30_000);
  });

  describe('no credentials', () => {
    it('exits 6 saying how to provide them', async () => {
      // Arrange
      const url = `http://127.0.0.1:${await freePort()}`;
      // Act
      const r = await cli(['--aws', '--endpoint', url, '--region', 'eu-west-1', 'status'], NO_CREDENTIALS);
      // Assess
      expect(r.code).toBe(6);
      expect(reasonOf(r)).toBe(
        'rekey: no AWS credentials found: set AWS_PROFILE (after aws configure or aws sso login) or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, then retry',
      );
    }, 30_000);
  });

  describe('no region', () => {
    it('exits 6 saying to pass --region or set AWS_REGION', async () => {
      // Arrange
      const url = `http://127.0.0.1:${await freePort()}`;
      const env = { ...TEST_CREDENTIALS, AWS_REGION: undefined, AWS_DEFAULT_REGION: undefined, AWS_PROFILE: undefined, AWS_CONFIG_FILE: '/nonexistent/rekey-test/config', AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/rekey-test/credentials', AWS_EC2_METADATA_DISABLED: 'true' };
      // Act
      const r = await cli(['--aws', '--endpoint', url, 'status'], env);
      // Assess
      expect(r.code).toBe(6);
      expect(reasonOf(r)).toBe('rekey: no AWS region: pass --region or set AWS_REGION (or a region in your AWS profile)');
    }, 30_000);
  });

  describe('a stack that does not exist (moto)', () => {
    it('exits 4 naming the stack and the region, and how to name the right one', async () => {
      // Act
      const r = await cli(['--aws', '--endpoint', motoUrl(), '--region', 'us-east-1', '--stack', 'NoSuchStack', 'status'], TEST_CREDENTIALS);
      // Assess
      expect(r.code).toBe(4);
      expect(reasonOf(r)).toBe("rekey: stack 'NoSuchStack' not found in us-east-1: pass --stack NAME (and --region) of the deployed rekey stack");
    });
  });

  describe('refused calls', () => {
    const denied = (name: string): Error => Object.assign(new Error('not authorized'), { name, $fault: 'client', $metadata: { httpStatusCode: 403 } });
    const region = 'eu-west-1';

    /** A stack whose outputs are what a real one exports; clients mocked, so each refusal is chosen. */
    function openerWith(clients: Partial<AwsModeClients> & { sts?: STSClient }): AwsOpener {
      return (o) => openAws({ ...o, clients: clients as Partial<AwsModeClients> });
    }
    function deployedStack(): CloudFormationClient {
      const cfn = new CloudFormationClient({ region });
      const env: Record<string, string> = {
        REKEY_CATALOG_BUCKET: 'rekey-catalog',
        REKEY_ESCROW_BUCKET: 'rekey-escrow',
        REKEY_EVENT_BUS_NAME: 'rekey-bus',
        REKEY_ESCROW_KEY_ARN: `arn:aws:kms:${region}:111122223333:key/00000000-0000-4000-8000-000000000001`,
        REKEY_KEYRING_KEYS: JSON.stringify({ pii: `arn:aws:kms:${region}:111122223333:key/00000000-0000-4000-8000-000000000002` }),
      };
      const outputs = Object.entries(STACK_OUTPUTS)
        .filter(([, variable]) => variable !== undefined && env[variable] !== undefined)
        .map(([key, variable]) => ({ OutputKey: key, OutputValue: env[variable as string] }));
      outputs.push({ OutputKey: 'FunctionNames', OutputValue: JSON.stringify({ rotate: 'rekey-rotate-fn', escrow: 'rekey-escrow-fn' }) });
      mockClient(cfn).on(DescribeStacksCommand).resolves({ Stacks: [{ StackName: 'Rekey', CreationTime: new Date(), StackStatus: 'CREATE_COMPLETE', Outputs: outputs }] });
      return cfn;
    }

    it('DescribeStacks: names the call and the stack, exit 6', async () => {
      // Arrange
      const cfn = new CloudFormationClient({ region });
      mockClient(cfn).on(DescribeStacksCommand).rejects(denied('AccessDenied'));
      // Act
      const r = await cli(['--aws', '--region', region, 'status'], TEST_CREDENTIALS, openerWith({ cloudFormation: cfn }));
      // Assess
      expect(r.code).toBe(6);
      expect(reasonOf(r)).toBe(
        `rekey: access denied: cloudformation:DescribeStacks on stack 'Rekey' in ${region}: no such stack there, or this role may not describe it; check --stack, --region and AWS_PROFILE`,
      );
    });

    it('Invoke: names lambda:InvokeFunction and the function, exit 6', async () => {
      // Arrange
      const lambda = new LambdaClient({ region });
      const invoke = mockClient(lambda);
      invoke.on(InvokeCommand).rejects(denied('AccessDeniedException'));
      const sts = new STSClient({ region });
      mockClient(sts).on(GetCallerIdentityCommand).resolves({ Arn: 'arn:aws:sts::111122223333:assumed-role/Outsider/alice', Account: '111122223333', UserId: 'AROA:alice' });
      // Act
      const r = await cli(['--aws', '--region', region, 'rotate', 'pii'], TEST_CREDENTIALS, openerWith({ cloudFormation: deployedStack(), lambda, sts }));
      // Assess
      expect(r.code).toBe(6);
      expect(reasonOf(r)).toBe(
        "rekey: access denied: lambda:InvokeFunction on the rotate function of stack 'Rekey' (AccessDeniedException); use a role the stack grants this to (docs/deploy.md, operator roles) or check AWS_PROFILE",
      );
      expect(invoke.commandCalls(InvokeCommand)).toHaveLength(1);
    });

    it('the catalog read: names the bucket, exit 6', async () => {
      // Arrange
      const s3 = new S3Client({ region });
      mockClient(s3).on(ListObjectsV2Command).rejects(denied('AccessDenied'));
      // Act
      const r = await cli(['--aws', '--region', region, 'status'], TEST_CREDENTIALS, openerWith({ cloudFormation: deployedStack(), s3 }));
      // Assess
      expect(r.code).toBe(6);
      expect(reasonOf(r)).toMatch(/^rekey: access denied to s3:\/\/rekey-catalog\/\S*; use a role the stack grants this to \(docs\/deploy\.md, operator roles\) or check AWS_PROFILE$/);
    });
  });
});
