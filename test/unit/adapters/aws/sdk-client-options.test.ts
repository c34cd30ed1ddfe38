/**
 * Every AWS SDK client rekey builds carries connection and request timeouts: the CLI's (a silent
 * endpoint fails within seconds), the CLI's Lambda invoke (long enough for a function's run, one
 * attempt) and the functions' (cut well inside a function's own timeout). The clients are built
 * by the real composition code and their resolved request handler is read back; a scan of the
 * sources proves no construction site bypasses the one helper.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { createAwsModeClients, type AwsModeContext } from '../../../../cli/aws-context';
import { stsClientOf } from '../../../../cli/aws/aws-kit';
import { buildAwsCore } from '../../../../shared/compose/aws/aws-core';
import { CLI_INVOKE_SDK_TIMEOUTS, CLI_SDK_TIMEOUTS, FUNCTION_SDK_TIMEOUTS, newSdkClient, sdkClientOptions, type SdkTimeouts } from '../../../../shared/adapters/aws/sdk-client-options';
import type { RekeyConfig } from '../../../../shared/config/load-config';

const ROOT = join(__dirname, '../../../..');

interface HandlerConfig {
  readonly connectionTimeout?: number;
  readonly requestTimeout?: number;
  readonly socketTimeout?: number;
  readonly throwOnRequestTimeout?: boolean;
}

interface AnyClient {
  readonly config: { readonly requestHandler: unknown; maxAttempts: () => Promise<number> };
  destroy(): void;
}

/** The options the client's NodeHttpHandler resolved (the handler keeps them behind a promise until first use). */
async function handlerConfigOf(client: AnyClient): Promise<HandlerConfig> {
  const handler = client.config.requestHandler as { configProvider?: Promise<HandlerConfig> };
  return (await handler.configProvider) ?? {};
}

async function expectTimeouts(client: AnyClient, timeouts: SdkTimeouts): Promise<void> {
  expect(await handlerConfigOf(client)).toMatchObject({
    connectionTimeout: timeouts.connectionTimeoutMs,
    requestTimeout: timeouts.requestTimeoutMs,
    socketTimeout: timeouts.requestTimeoutMs,
    throwOnRequestTimeout: true,
  });
  if (timeouts.maxAttempts !== undefined) expect(await client.config.maxAttempts()).toBe(timeouts.maxAttempts);
}

function sourcesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sourcesUnder(path));
    else if (name.endsWith('.ts')) out.push(path);
  }
  return out;
}

describe('sdk client options', () => {
  describe('newSdkClient', () => {
    it('applies the timeouts over a request handler the caller passed', async () => {
      // Prepare
      const config = { region: 'eu-west-1', requestHandler: { requestTimeout: 0 } };
      // Act
      const client = newSdkClient(S3Client, config, CLI_SDK_TIMEOUTS);
      // Assess
      await expectTimeouts(client, CLI_SDK_TIMEOUTS);
      client.destroy();
    });

    it('keeps the SDK default attempts when the profile names none', () => {
      expect(sdkClientOptions(FUNCTION_SDK_TIMEOUTS)).not.toHaveProperty('maxAttempts');
      expect(sdkClientOptions(CLI_SDK_TIMEOUTS).maxAttempts).toBe(3);
    });
  });

  describe('the CLI', () => {
    it('gives every AWS-mode client the CLI timeouts, and the Lambda client the long single-attempt ones', async () => {
      // Act
      const clients = createAwsModeClients({ region: 'eu-west-1', endpoint: 'http://127.0.0.1:1' });
      const sts = stsClientOf({ clients } as unknown as AwsModeContext);
      // Assess
      for (const c of [clients.cloudFormation, clients.s3, clients.kms, clients.eventBridge, sts]) await expectTimeouts(c as unknown as AnyClient, CLI_SDK_TIMEOUTS);
      await expectTimeouts(clients.lambda as unknown as AnyClient, CLI_INVOKE_SDK_TIMEOUTS);
      expect(CLI_INVOKE_SDK_TIMEOUTS).toMatchObject({ maxAttempts: 1 });
      // Every function's timeout is at most Lambda's 15 minutes: the invoke outwaits any of them.
      expect(CLI_INVOKE_SDK_TIMEOUTS.requestTimeoutMs).toBeGreaterThan(15 * 60_000);
      for (const c of [...Object.values(clients), sts]) c.destroy();
    });

    it('fails a silent endpoint within about 15 s: 3 attempts of 4 s', () => {
      expect(CLI_SDK_TIMEOUTS.requestTimeoutMs * (CLI_SDK_TIMEOUTS.maxAttempts ?? 3)).toBeLessThanOrEqual(15_000);
    });
  });

  describe('the functions', () => {
    it('build their KMS and S3 clients with the function timeouts', async () => {
      // Prepare
      // Only what the core reads at construction; nothing connects until first used.
      const config = { region: 'eu-west-1', catalogBucket: 'catalog-bucket', catalogPrefix: 'catalog/', escrowBucket: 'escrow-bucket', eventBusName: 'bus', keyringKeys: {} } as unknown as RekeyConfig;
      // Act
      const core = buildAwsCore(config);
      // Assess
      await expectTimeouts(core.kms as unknown as AnyClient, FUNCTION_SDK_TIMEOUTS);
      await expectTimeouts(core.s3 as unknown as AnyClient, FUNCTION_SDK_TIMEOUTS);
      core.kms.destroy();
      core.s3.destroy();
    });
  });

  describe('construction sites', () => {
    it('builds no SDK client outside the helper in cli/, functions/ and shared/', () => {
      // Prepare
      const files = ['cli', 'functions', 'shared'].flatMap((d) => sourcesUnder(join(ROOT, d)));
      // Act: constructions in code, not in TSDoc examples (` * ` lines).
      const offenders = files.flatMap((f) => {
        const rel = relative(ROOT, f);
        if (rel === 'shared/adapters/aws/sdk-client-options.ts') return [];
        return readFileSync(f, 'utf8')
          .split('\n')
          .map((line, i) => ({ line, at: `${rel}:${i + 1}` }))
          .filter(({ line }) => !/^\s*\*/.test(line) && /new [A-Z][A-Za-z0-9]*Client\(/.test(line) && !/new (Envelope|AppRekey)Client\(/.test(line)) // rekey's own clients, not SDK ones
          .map(({ at }) => at);
      });
      // Assess
      expect(files.length).toBeGreaterThan(50);
      expect(offenders).toEqual([]);
    });

    it('gives every client of the function composition the function timeouts', () => {
      // Prepare
      const compose = sourcesUnder(join(ROOT, 'shared/compose/aws'));
      // Act
      const calls = compose.flatMap((f) => [...readFileSync(f, 'utf8').matchAll(/newSdkClient\(([^()]*)\)/g)].map((m) => ({ file: relative(ROOT, f), call: m[1] ?? '' })));
      // Assess
      expect(calls.length).toBeGreaterThanOrEqual(9);
      expect(calls.filter((c) => !c.call.endsWith('FUNCTION_SDK_TIMEOUTS'))).toEqual([]);
    });
  });
});
