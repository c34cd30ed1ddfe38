import { CreateKeyCommand, DecryptCommand, ReplicateKeyCommand } from '@aws-sdk/client-kms';
import { KmsKeyVault } from '../../../shared/adapters/aws/kms-key-vault';
import { DecryptError, KeyUnavailableError, RekeyError, ValidationError } from '../../../shared/errors';
import { createKmsKey, motoKms, motoKmsIn } from './moto';

describe('KmsKeyVault (moto)', () => {
  const kms = motoKms();
  let keyArn: string;
  let otherKeyArn: string;
  let vault: KmsKeyVault;

  beforeAll(async () => {
    keyArn = await createKmsKey(kms);
    otherKeyArn = await createKmsKey(kms);
    vault = new KmsKeyVault({ client: kms, defaultKeyId: keyArn });
  });

  describe('generateKey', () => {
    it('returns a 32-byte key whose wrapped form unwraps to the same bytes under the same context', async () => {
      // Prepare
      const context = { keyring: 'orders', version: '1' };
      // Act
      const generated = await vault.generateKey(context);
      const unwrapped = await vault.unwrap(generated.wrapped, context, generated.wrappingKeyId);
      // Assess
      expect(generated.plaintext).toHaveLength(32);
      expect(generated.wrappingKeyId).toBe(keyArn);
      expect(unwrapped.equals(generated.plaintext)).toBe(true);
      expect(generated.wrapped.includes(generated.plaintext)).toBe(false);
    });

    it('binds the encryption context so that KMS refuses to decrypt the blob without it', async () => {
      // Prepare
      const generated = await vault.generateKey({ keyring: 'orders', version: '2' });
      // Act
      const bare = kms.send(new DecryptCommand({ CiphertextBlob: generated.wrapped, KeyId: keyArn }));
      // Assess
      await expect(bare).rejects.toMatchObject({ name: 'InvalidCiphertextException' });
    });

    it('throws KeyUnavailableError when the KMS key does not exist', async () => {
      // Prepare
      const missing = keyArn.replace(/key\/.*/, 'key/00000000-0000-4000-8000-000000000000');
      // Act
      const attempt = vault.generateKey({ keyring: 'orders', version: '3' }, missing);
      // Assess
      await expect(attempt).rejects.toBeInstanceOf(KeyUnavailableError);
    });

    it('throws ValidationError for an empty encryption context', async () => {
      // Act
      const attempt = vault.generateKey({});
      // Assess
      await expect(attempt).rejects.toBeInstanceOf(ValidationError);
    });
  });

  describe('unwrap', () => {
    it('throws DecryptError when the context differs in one value', async () => {
      // Prepare
      const generated = await vault.generateKey({ keyring: 'orders', version: '4' });
      // Act
      const attempt = vault.unwrap(generated.wrapped, { keyring: 'orders', version: '5' });
      // Assess
      await expect(attempt).rejects.toBeInstanceOf(DecryptError);
    });

    it('refuses a blob of another key even with the right context', async () => {
      // Prepare
      const context = { keyring: 'orders', version: '6' };
      const generated = await vault.generateKey(context);
      // Act
      const attempt = vault.unwrap(generated.wrapped, context, otherKeyArn);
      // Assess: real KMS answers IncorrectKeyException (DecryptError), moto AccessDeniedException;
      // either way the caller gets a typed error and no key.
      await expect(attempt).rejects.toBeInstanceOf(RekeyError);
      await expect(attempt).rejects.toMatchObject({ code: expect.stringMatching(/^(DECRYPT_FAILED|ACCESS_DENIED)$/) });
    });
  });

  describe('wrap', () => {
    it('wraps existing key material that unwraps only under its own context', async () => {
      // Prepare
      const material = Buffer.alloc(32, 0x5a);
      const context = { keyring: 'orders', version: '7', purpose: 'escrow' };
      // Act
      const wrapped = await vault.wrap(material, context, otherKeyArn);
      const back = await vault.unwrap(wrapped, context, otherKeyArn);
      const withoutPurpose = vault.unwrap(wrapped, { keyring: 'orders', version: '7' }, otherKeyArn);
      // Assess
      expect(back.equals(material)).toBe(true);
      await expect(withoutPurpose).rejects.toBeInstanceOf(DecryptError);
    });
  });
});

// A multi-Region key (KMS CreateKey MultiRegion, ReplicateKey): a version key generated in the
// home Region, whose catalog records the home ARN, unwraps in the replica's Region with that
// Region's replica (same key material, "Multi-Region keys in AWS KMS", AWS KMS Developer Guide).
describe('KmsKeyVault with a multi-Region key (moto)', () => {
  it('unwraps in another Region by calling that Region\'s replica, named from the home ARN', async () => {
    // Prepare
    const home = motoKms();
    const replicaClient = motoKmsIn('eu-west-1');
    const created = await home.send(new CreateKeyCommand({ MultiRegion: true, Description: 'rekey mrk test' }));
    const homeArn = created.KeyMetadata!.Arn!;
    // By key id: moto 5.2.1 looks ReplicateKey's KeyId up among key ids only (KMS also takes the ARN).
    const replicated = await home.send(new ReplicateKeyCommand({ KeyId: created.KeyMetadata!.KeyId!, ReplicaRegion: 'eu-west-1' }));
    const sent: string[] = [];
    replicaClient.middlewareStack.add(
      (next) => async (args) => {
        sent.push(String((args.input as { KeyId?: string }).KeyId));
        return next(args);
      },
      { step: 'initialize', name: 'keyIds' },
    );
    const atHome = new KmsKeyVault({ client: home, region: 'us-east-1' });
    const inReplica = new KmsKeyVault({ client: replicaClient, region: 'eu-west-1' });
    const context = { keyring: 'orders', version: '1' };
    // Act
    const generated = await atHome.generateKey(context, homeArn);
    const unwrapped = await inReplica.unwrap(generated.wrapped, context, generated.wrappingKeyId);
    // Assess
    expect(homeArn).toMatch(/:key\/mrk-/);
    expect(generated.wrappingKeyId).toBe(homeArn);
    expect(unwrapped.equals(generated.plaintext)).toBe(true);
    expect(sent).toEqual([replicated.ReplicaKeyMetadata!.Arn!]);
    expect(sent[0]).toBe(homeArn.replace(':us-east-1:', ':eu-west-1:'));
  });
});
