/**
 * The example's own CDK app: its bucket, its function and its HTTP API, in its own stack, next
 * to a rekey that a platform team deployed elsewhere. rekey is imported from that stack's
 * outputs (`rekey --aws outputs > rekey-outputs.json`, or `cdk deploy --outputs-file`),
 * the function gets the keyring's permissions and the variables the client reads; the platform
 * team then registers the function's role (`rekey consumers add pii <CustomerRecordsRoleArn>`)
 * and lists the bucket as a record target of `pii` (prefix `customers/`).
 *
 *   npx cdk synth --app 'npx ts-node --transpile-only infra/app.ts' -c rekeyOutputs=rekey-outputs.json
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import { HttpApi, HttpMethod, PayloadFormatVersion } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Runtime } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { BlockPublicAccess, Bucket, BucketEncryption } from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';
import { Rekey } from 'rekey-kms/construct';

/** Props of {@link CustomerRecordsStack}. */
export interface CustomerRecordsStackProps extends StackProps {
  /** The rekey stack's CloudFormation outputs (output key → value). */
  readonly rekeyOutputs: Record<string, string>;
  /** Key prefix of the records: the record target's prefix. @default 'customers/' */
  readonly recordsPrefix?: string;
}

/**
 * The customer-records application.
 *
 * @example
 * new CustomerRecordsStack(app, 'CustomerRecords', { rekeyOutputs: JSON.parse(readFileSync('rekey-outputs.json', 'utf8')) });
 */
export class CustomerRecordsStack extends Stack {
  public constructor(scope: Construct, id: string, props: CustomerRecordsStackProps) {
    super(scope, id, props);
    const prefix = props.recordsPrefix ?? 'customers/';

    // Versioned, as rekey's record targets are: every rewrite keeps the previous object version,
    // which rekey's revocation purges when a revoked key could open it; others expire.
    const records = new Bucket(this, 'Records', {
      versioned: true,
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      lifecycleRules: [{ noncurrentVersionExpiration: Duration.days(30) }],
    });

    const fn = new NodejsFunction(this, 'Api', {
      entry: join(__dirname, '..', 'src', 'handler.ts'),
      handler: 'handler',
      runtime: Runtime.NODEJS_24_X,
      memorySize: 256,
      timeout: Duration.seconds(10),
      environment: { RECORDS_BUCKET: records.bucketName, RECORDS_PREFIX: prefix },
      bundling: { minify: true, sourceMap: true, mainFields: ['module', 'main'] },
    });
    // Exactly what the handler calls: GetObject and a conditional PutObject under the prefix, and
    // ListBucket on the bucket (its own; a prefix condition would not apply to the GetObject
    // check) so that a missing record is NoSuchKey (404), not AccessDenied. No delete.
    fn.addToRolePolicy(new PolicyStatement({ actions: ['s3:GetObject', 's3:PutObject'], resources: [records.arnForObjects(`${prefix}*`)] }));
    fn.addToRolePolicy(new PolicyStatement({ actions: ['s3:ListBucket'], resources: [records.bucketArn] }));

    // The keyring: the identity policy for its key and catalog, and the REKEY_* variables.
    const pii = Rekey.fromOutputs(this, 'Rekey', props.rekeyOutputs).keyring('pii');
    pii.grantEncryptDecrypt(fn);
    pii.bindEnvironment(fn);

    const api = new HttpApi(this, 'Http');
    // Payload format 2.0 is what the handler parses (its event type is APIGatewayProxyEventV2).
    const integration = new HttpLambdaIntegration('Customers', fn, { payloadFormatVersion: PayloadFormatVersion.VERSION_2_0 });
    api.addRoutes({ path: '/customers/{id}', methods: [HttpMethod.GET, HttpMethod.PUT], integration });

    new CfnOutput(this, 'ApiUrl', { value: api.apiEndpoint });
    new CfnOutput(this, 'RecordsBucket', { value: records.bucketName });
    // What the platform team registers: `rekey consumers add pii <this ARN>`.
    new CfnOutput(this, 'CustomerRecordsRoleArn', { value: fn.role?.roleArn ?? '' });
  }
}

if (require.main === module) {
  const app = new App();
  const file = String(app.node.tryGetContext('rekeyOutputs') ?? 'rekey-outputs.json');
  const rekeyOutputs = JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
  new CustomerRecordsStack(app, 'CustomerRecords', { rekeyOutputs });
}
