import {
  DecryptCommand,
  DisabledException,
  EncryptCommand,
  GenerateDataKeyCommand,
  IncorrectKeyException,
  InvalidCiphertextException,
  KMSClient,
  KMSInternalException,
  KMSInvalidStateException,
  KMSServiceException,
  NotFoundException,
} from '@aws-sdk/client-kms';
import { mockClient } from 'aws-sdk-client-mock';
import { KmsKeyVault } from '../../../../shared/adapters/aws/kms-key-vault';
import {
  AccessDeniedError,
  BackendError,
  DecryptError,
  KeyUnavailableError,
  ThrottledError,
  ValidationError,
} from '../../../../shared/errors';
import { startRefusingEndpoint } from './refusing-endpoint';

const KEY = 'arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555';
const context = { keyring: 'orders', version: '1' };
const meta = { $metadata: {} };

describe('KmsKeyVault', () => {
  const client = new KMSClient({ region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
  const kms = mockClient(client);
  const vault = new KmsKeyVault({ client, defaultKeyId: KEY });

  beforeEach(() => kms.reset());

  describe('generateKey', () => {
    it('asks for an AES_256 data key with the encryption context and zeroes the SDK copy of the key', async () => {
      // Prepare
      const sdkPlaintext = Uint8Array.from({ length: 32 }, (_, i) => i + 1);
      const expected = Buffer.from(sdkPlaintext);
      kms.on(GenerateDataKeyCommand).resolves({ Plaintext: sdkPlaintext, CiphertextBlob: new Uint8Array(64).fill(9), KeyId: KEY });
      // Act
      const generated = await vault.generateKey(context);
      // Assess
      expect(kms.commandCalls(GenerateDataKeyCommand)[0]?.args[0].input).toEqual({ KeyId: KEY, KeySpec: 'AES_256', EncryptionContext: context });
      expect(generated.plaintext.equals(expected)).toBe(true);
      expect(sdkPlaintext.every((b) => b === 0)).toBe(true);
      expect(generated.wrappingKeyId).toBe(KEY);
    });

    it('throws KeyUnavailableError when the key is disabled or pending deletion', async () => {
      // Prepare
      kms.on(GenerateDataKeyCommand)
        .rejectsOnce(new DisabledException({ message: 'is disabled', ...meta }))
        .rejectsOnce(new KMSInvalidStateException({ message: 'is pending deletion', ...meta }));
      // Act
      const disabled = vault.generateKey(context);
      await expect(disabled).rejects.toBeInstanceOf(KeyUnavailableError);
      const pending = vault.generateKey(context);
      // Assess
      await expect(pending).rejects.toBeInstanceOf(KeyUnavailableError);
      await expect(pending).rejects.toMatchObject({ code: 'KEY_UNAVAILABLE', retryable: false });
    });

    it('throws BackendError for a response without 32 bytes of key', async () => {
      // Prepare
      kms.on(GenerateDataKeyCommand).resolves({ Plaintext: new Uint8Array(16).fill(1), CiphertextBlob: new Uint8Array(8), KeyId: KEY });
      // Act
      const attempt = vault.generateKey(context);
      // Assess
      await expect(attempt).rejects.toBeInstanceOf(BackendError);
    });

    it('throws ValidationError without calling KMS when no key id is known', async () => {
      // Prepare
      const keyless = new KmsKeyVault({ client });
      // Act
      const attempt = keyless.generateKey(context);
      // Assess
      await expect(attempt).rejects.toBeInstanceOf(ValidationError);
      expect(kms.calls()).toHaveLength(0);
    });
  });

  describe('unwrap', () => {
    it('pins KeyId and EncryptionContext on Decrypt', async () => {
      // Prepare
      kms.on(DecryptCommand).resolves({ Plaintext: new Uint8Array(32).fill(4), KeyId: KEY });
      const wrapped = Buffer.alloc(64, 1);
      // Act
      const key = await vault.unwrap(wrapped, context);
      // Assess
      expect(kms.commandCalls(DecryptCommand)[0]?.args[0].input).toEqual({ KeyId: KEY, CiphertextBlob: wrapped, EncryptionContext: context });
      expect(key.equals(Buffer.alloc(32, 4))).toBe(true);
    });

    it('throws the one DecryptError for an invalid ciphertext or a blob of another key', async () => {
      // Prepare
      kms.on(DecryptCommand)
        .rejectsOnce(new InvalidCiphertextException({ message: 'bad', ...meta }))
        .rejectsOnce(new IncorrectKeyException({ message: 'other key', ...meta }));
      // Act
      const invalid = vault.unwrap(Buffer.alloc(64, 1), context);
      await expect(invalid).rejects.toBeInstanceOf(DecryptError);
      const incorrect = vault.unwrap(Buffer.alloc(64, 1), context);
      // Assess
      await expect(incorrect).rejects.toBeInstanceOf(DecryptError);
      await expect(incorrect).rejects.toMatchObject({ message: DecryptError.MESSAGE });
    });

    it('throws KeyUnavailableError for a missing key and AccessDeniedError when the key policy refuses', async () => {
      // Prepare
      kms.on(DecryptCommand)
        .rejectsOnce(new NotFoundException({ message: 'no such key', ...meta }))
        // KMS does not model AccessDeniedException; the SDK raises it as a plain service exception.
        .rejectsOnce(new KMSServiceException({ name: 'AccessDeniedException', $fault: 'client', message: 'context condition failed', $metadata: { httpStatusCode: 400 } }));
      // Act
      const missing = vault.unwrap(Buffer.alloc(64, 1), context);
      await expect(missing).rejects.toBeInstanceOf(KeyUnavailableError);
      const denied = vault.unwrap(Buffer.alloc(64, 1), context);
      // Assess
      await expect(denied).rejects.toBeInstanceOf(AccessDeniedError);
    });

    it('wraps any other failure in a BackendError that keeps the cause', async () => {
      // Prepare
      const cause = new KMSInternalException({ message: 'internal', ...meta });
      kms.on(DecryptCommand).rejects(cause);
      // Act
      const attempt = vault.unwrap(Buffer.alloc(64, 1), context);
      // Assess
      await expect(attempt).rejects.toBeInstanceOf(BackendError);
      await expect(attempt).rejects.toMatchObject({ cause });
    });
  });

  describe('wrap', () => {
    it('never puts the key material into an error message', async () => {
      // Prepare
      const material = Buffer.from('00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff', 'hex');
      kms.on(EncryptCommand).rejects(new DisabledException({ message: 'key is disabled', ...meta }));
      // Act
      const error = (await vault.wrap(material, context).catch((e: unknown) => e)) as Error;
      // Assess
      expect(error).toBeInstanceOf(KeyUnavailableError);
      expect(error.message).not.toContain(material.toString('hex'));
      expect(error.message).not.toContain(material.toString('base64'));
    });

    it('throws ValidationError for key material over the KMS limit', async () => {
      // Act
      const attempt = vault.wrap(Buffer.alloc(4097), context);
      // Assess
      await expect(attempt).rejects.toBeInstanceOf(ValidationError);
      expect(kms.calls()).toHaveLength(0);
    });
  });

  describe('throttling (real SDK retry path)', () => {
    it.each([
      ['ThrottlingException', 'adaptive'],
      ['LimitExceededException', 'standard'],
    ] as const)('retries %s up to maxAttempts in %s mode, then throws ThrottledError', async (type, retryMode) => {
      // Prepare
      const endpoint = await startRefusingEndpoint(400, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-errortype': type }, JSON.stringify({ __type: type, message: 'Rate exceeded' }));
      const throttled = new KmsKeyVault({
        clientConfig: { endpoint: endpoint.url, region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } },
        defaultKeyId: KEY,
        maxAttempts: 3,
        retryMode,
      });
      // Act
      const attempt = throttled.unwrap(Buffer.alloc(64, 1), context).catch((e: unknown) => e);
      const error = await attempt;
      await endpoint.close();
      // Assess
      expect(error).toBeInstanceOf(ThrottledError);
      expect((error as ThrottledError).retryable).toBe(true);
      expect(endpoint.requests()).toBe(3);
    });
  });

  describe('constructor', () => {
    it('throws ValidationError for an out-of-range maxAttempts', () => {
      // Act
      const build = () => new KmsKeyVault({ maxAttempts: 0 });
      // Assess
      expect(build).toThrow(ValidationError);
    });
  });
});
