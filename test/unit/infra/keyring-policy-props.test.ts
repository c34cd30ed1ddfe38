/**
 * The keyring policy's quiet period and destruction opt-in on their way from cdk.json to the
 * provision function: props validation (infra/props.ts), the Custom::RekeyKeyring properties
 * (keyringResourceProperties) and the function's request schema, which must accept exactly what
 * the stack writes. The catalog end of the path runs on moto in
 * test/integration/functions/provision.test.ts.
 */
import { keyringResourceProperties } from '../../../infra/constructs/keyring-provisioning';
import { resolveRekeyProps } from '../../../infra/props';
import { ValidationError } from '../../../shared/errors';
import { keyringPropertiesSchema } from '../../../shared/vocabulary/provision-event-schema';

const DAY = 86_400;
const SERVICE_TOKEN = 'arn:aws:lambda:us-east-1:123456789012:function:Rekey-provision';

function problemOf(input: unknown): string {
  try {
    resolveRekeyProps(input);
  } catch (err) {
    expect(err).toBeInstanceOf(ValidationError);
    return (err as Error).message;
  }
  throw new Error('expected a ValidationError');
}

describe('keyring policy props', () => {
  describe('resolveRekeyProps', () => {
    it('defaults a keyring that names neither field to a 7-day quiet period and no destruction', () => {
      // Prepare / Act
      const [pii] = resolveRekeyProps({ keyrings: [{ name: 'pii' }] }).keyrings;
      // Assess
      expect(pii?.policy).toMatchObject({ quietSeconds: 7 * DAY, destroyAfterRetention: false });
    });

    it('takes a quiet period and the destruction opt-in from the keyring entry', () => {
      // Prepare / Act
      const [pii] = resolveRekeyProps({ keyrings: [{ name: 'pii', quiet: '36h', destroyAfterRetention: true }] }).keyrings;
      // Assess
      expect(pii?.policy).toMatchObject({ quietSeconds: 36 * 3600, destroyAfterRetention: true });
    });

    it.each<[string, unknown, RegExp]>([
      ['a quiet period that is not a duration', { name: 'pii', quiet: 'a week' }, /^invalid rekey props: keyrings\.0\.quiet: must be a duration such as 90d, 36h, 10m or 30s$/],
      ['a fractional quiet period', { name: 'pii', quiet: '1.5d' }, /keyrings\.0\.quiet: must be a duration/],
      ['a quiet period beyond 100 years', { name: 'pii', quiet: '36501d' }, /keyrings\.0\.quiet: must be a duration/],
      ['a destruction opt-in written as a string', { name: 'pii', destroyAfterRetention: 'true' }, /keyrings\.0\.destroyAfterRetention: .*boolean/],
      ['a misspelt field', { name: 'pii', destroyAfterRetension: true }, /destroyAfterRetension/],
    ])('refuses %s with one ValidationError naming the field', (_what, keyring, message) => {
      // Act
      const problem = problemOf({ keyrings: [keyring] });
      // Assess
      expect(problem).toMatch(message);
    });
  });

  describe('keyringResourceProperties', () => {
    it('writes the quiet period in cdk.json notation and the opt-in as a string, defaults spelled out', () => {
      // Prepare
      const [opted, plain] = resolveRekeyProps({ keyrings: [{ name: 'pii', quiet: '1d', destroyAfterRetention: true }, { name: 'ops' }] }).keyrings;
      // Act
      const optedProps = keyringResourceProperties(opted!);
      const plainProps = keyringResourceProperties(plain!);
      // Assess
      expect(optedProps).toEqual({ Keyring: 'pii', RotateEvery: '90d', Grace: '7d', Propagation: '10m', Retention: '30d', Quiet: '1d', DestroyAfterRetention: 'true', Sensitivity: 'moderate' });
      expect(plainProps).toMatchObject({ Quiet: '7d', DestroyAfterRetention: 'false' });
    });

    it('writes a zero quiet period as 0s, which the request schema accepts', () => {
      // Prepare
      const [pii] = resolveRekeyProps({ keyrings: [{ name: 'pii', quiet: '0s' }] }).keyrings;
      // Act
      const parsed = keyringPropertiesSchema.safeParse({ ServiceToken: SERVICE_TOKEN, ...keyringResourceProperties(pii!) });
      // Assess
      expect(parsed.success).toBe(true);
      expect(parsed.data?.Quiet).toBe('0s');
    });
  });

  describe('keyringPropertiesSchema', () => {
    it('accepts the properties the stack writes, and those of a template from before the two fields', () => {
      // Prepare
      const [pii] = resolveRekeyProps({ keyrings: [{ name: 'pii', quiet: '1d', destroyAfterRetention: true }] }).keyrings;
      const current: Record<string, string> = { ServiceToken: SERVICE_TOKEN, ...keyringResourceProperties(pii!) };
      const { Quiet: _q, DestroyAfterRetention: _d, ...older } = current;
      // Act
      const parsedCurrent = keyringPropertiesSchema.safeParse(current);
      const parsedOlder = keyringPropertiesSchema.safeParse(older);
      // Assess
      expect(parsedCurrent.data).toMatchObject({ Quiet: '1d', DestroyAfterRetention: 'true' });
      expect(parsedOlder.success).toBe(true);
      expect(parsedOlder.data).not.toHaveProperty('Quiet');
    });

    it.each([['True'], ['1'], ['yes'], ['']])('refuses DestroyAfterRetention %p', (value) => {
      // Act
      const parsed = keyringPropertiesSchema.safeParse({ ServiceToken: SERVICE_TOKEN, Keyring: 'pii', RotateEvery: '90d', Grace: '7d', Propagation: '10m', Retention: '30d', DestroyAfterRetention: value });
      // Assess
      expect(parsed.success).toBe(false);
    });
  });
});
