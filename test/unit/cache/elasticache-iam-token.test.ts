import { createHash, createHmac } from 'node:crypto';
import { ElastiCacheIamTokenProvider, IAM_TOKEN_TTL_SECONDS } from '../../../shared/adapters/aws/elasticache-iam-token';
import { ValidationError } from '../../../shared/errors';

const CREDS = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', sessionToken: 'session/token+=' };
const AT = new Date('2024-05-06T07:08:09Z');

const rfc3986 = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data, 'utf8').digest();
const sha256hex = (data: string) => createHash('sha256').update(data, 'utf8').digest('hex');

/** SigV4 query-string presigning written from the AWS specification, independently of the code under test. */
function expectedSignature(url: URL, region: string): string {
  const params = [...url.searchParams.entries()].filter(([k]) => k !== 'X-Amz-Signature');
  params.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const canonicalQuery = params.map(([k, v]) => `${rfc3986(k)}=${rfc3986(v)}`).join('&');
  const canonicalRequest = ['GET', '/', canonicalQuery, `host:${url.host}`, '', 'host', sha256hex('')].join('\n');
  const amzDate = url.searchParams.get('X-Amz-Date')!;
  const day = amzDate.slice(0, 8);
  const scope = `${day}/${region}/elasticache/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256hex(canonicalRequest)].join('\n');
  const kDate = hmac(`AWS4${CREDS.secretAccessKey}`, day);
  const kSigning = hmac(hmac(hmac(kDate, region), 'elasticache'), 'aws4_request');
  return createHmac('sha256', kSigning).update(stringToSign, 'utf8').digest('hex');
}

describe('ElastiCacheIamTokenProvider', () => {
  describe('getToken', () => {
    it('presigns connect for the user with the expected query parameters and a valid signature', async () => {
      // Prepare
      const provider = new ElastiCacheIamTokenProvider({ cacheName: 'Rekey-Cache', userId: 'rekey-app', region: 'eu-west-1', credentials: CREDS, clock: () => AT });
      // Act
      const token = await provider.getToken();
      // Assess
      expect(token.startsWith('rekey-cache/?')).toBe(true);
      const url = new URL(`http://${token}`);
      const q = url.searchParams;
      expect(q.get('Action')).toBe('connect');
      expect(q.get('User')).toBe('rekey-app');
      expect(q.get('ResourceType')).toBeNull();
      expect(q.get('X-Amz-Algorithm')).toBe('AWS4-HMAC-SHA256');
      expect(q.get('X-Amz-Credential')).toBe('AKIDEXAMPLE/20240506/eu-west-1/elasticache/aws4_request');
      expect(q.get('X-Amz-Date')).toBe('20240506T070809Z');
      expect(q.get('X-Amz-Expires')).toBe(String(IAM_TOKEN_TTL_SECONDS));
      expect(q.get('X-Amz-SignedHeaders')).toBe('host');
      expect(q.get('X-Amz-Security-Token')).toBe(CREDS.sessionToken);
      expect(q.get('X-Amz-Signature')).toBe(expectedSignature(url, 'eu-west-1'));
    });

    it('adds ResourceType=ServerlessCache for a serverless cache', async () => {
      // Prepare
      const provider = new ElastiCacheIamTokenProvider({ cacheName: 'sls', userId: 'u', region: 'us-east-1', credentials: CREDS, serverless: true, clock: () => AT });
      // Act
      const url = new URL(`http://${await provider.getToken()}`);
      // Assess
      expect(url.searchParams.get('ResourceType')).toBe('ServerlessCache');
      expect(url.searchParams.get('X-Amz-Signature')).toBe(expectedSignature(url, 'us-east-1'));
    });

    it('reuses a young token and signs a new one once it is refreshAfterSeconds old', async () => {
      // Prepare
      let now = AT.getTime();
      const provider = new ElastiCacheIamTokenProvider({ cacheName: 'c', userId: 'u', region: 'us-east-1', credentials: CREDS, refreshAfterSeconds: 600, clock: () => new Date(now) });
      const first = await provider.getToken();
      // Act
      now += 599_000;
      const reused = await provider.getToken();
      now += 1_000;
      const renewed = await provider.getToken();
      // Assess
      expect(reused).toBe(first);
      expect(renewed).not.toBe(first);
      expect(new URL(`http://${renewed}`).searchParams.get('X-Amz-Date')).toBe('20240506T071809Z');
    });

    it('resolves credentials from a provider function', async () => {
      // Prepare
      const credentials = jest.fn(async () => CREDS);
      const provider = new ElastiCacheIamTokenProvider({ cacheName: 'c', userId: 'u', region: 'us-east-1', credentials, clock: () => AT });
      // Act
      const url = new URL(`http://${await provider.getToken()}`);
      // Assess
      expect(credentials).toHaveBeenCalled();
      expect(url.searchParams.get('X-Amz-Signature')).toBe(expectedSignature(url, 'us-east-1'));
    });
  });

  describe('constructor', () => {
    it.each([
      [{ cacheName: 'bad name' }],
      [{ userId: '' }],
      [{ region: '' }],
      [{ refreshAfterSeconds: 900 }],
    ])('refuses %j with ValidationError', (override) => {
      // Prepare
      const options = { cacheName: 'c', userId: 'u', region: 'us-east-1', credentials: CREDS, ...override };
      // Act
      const build = () => new ElastiCacheIamTokenProvider(options);
      // Assess
      expect(build).toThrow(ValidationError);
    });
  });
});
