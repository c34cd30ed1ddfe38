/**
 * `escrow restore` on AWS runs in the escrow function: it re-wraps a version key opened from
 * escrow under the keyring's KMS key. These tests pin exactly what that needs (kms:Encrypt with
 * the version context of that keyring) and that it brings no decrypt right with it.
 */
import type { Template } from 'aws-cdk-lib/assertions';
import { FULL_CONFIG, synthStack } from './support/stack-fixture';

type Resource = { Type: string; Properties?: Record<string, unknown> };
type Statement = Record<string, unknown>;

const asList = (v: unknown): unknown[] => (Array.isArray(v) ? v : [v]);

/** Key-policy statements of each keyring key, by keyring (from the key's description). */
function keyringKeyStatements(template: Template): Map<string, Statement[]> {
  const out = new Map<string, Statement[]>();
  for (const k of Object.values(template.findResources('AWS::KMS::Key') as Record<string, Resource>)) {
    const m = /wraps the version keys of keyring (\S+)/.exec(String(k.Properties?.['Description']));
    if (m?.[1] !== undefined) out.set(m[1], (k.Properties?.['KeyPolicy'] as { Statement: Statement[] }).Statement);
  }
  return out;
}

const escrowPrincipal = (s: Statement): boolean => /FnescrowRole/.test(JSON.stringify(s['Principal']));

describe('escrow restore permissions', () => {
  let template: Template;

  beforeAll(() => {
    ({ template } = synthStack(FULL_CONFIG));
  });

  it('lets the escrow role Encrypt under every keyring key with exactly that keyring and a version in the context', () => {
    // Prepare
    const keys = keyringKeyStatements(template);

    // Act
    const restore = [...keys.entries()].map(([keyring, statements]) => [keyring, statements.filter((s) => s['Sid'] === 'RestoreVersionKeysFromEscrow')] as const);

    // Assess
    expect(keys.size).toBeGreaterThan(0);
    for (const [keyring, statements] of restore) {
      expect({ keyring, statements }).toEqual({
        keyring,
        statements: [
          expect.objectContaining({
            Effect: 'Allow',
            Action: 'kms:Encrypt',
            Condition: {
              StringEquals: { 'kms:EncryptionContext:keyring': keyring },
              'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['keyring', 'version'] },
              Null: { 'kms:EncryptionContext:version': 'false' },
            },
          }),
        ],
      });
      expect(escrowPrincipal(statements[0] as Statement)).toBe(true);
    }
  });

  it('gives the escrow role no key-policy Decrypt, ReEncrypt or GenerateDataKey on a keyring key (it reads versions through grants only)', () => {
    // Prepare
    const keys = keyringKeyStatements(template);

    // Act
    const actions = [...keys.values()].flat().filter(escrowPrincipal).flatMap((s) => asList(s['Action']) as string[]);

    // Assess
    expect(actions.length).toBeGreaterThan(0);
    expect(new Set(actions)).toEqual(new Set(['kms:Encrypt']));
  });
});
