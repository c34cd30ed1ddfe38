/**
 * A re-wrap keeps the data key: an envelope re-wrapped to v2 before v1 was revoked still holds
 * the data key v1 once wrapped (its header says originVersion 1). After the revocation such an
 * envelope must be re-encrypted, and `rewrap` refuses it like an envelope still under v1,
 * instead of carrying the possibly exposed data key forward under v3.
 */
import { TestHome, T0, at, expectFailure } from './support/test-home';

const NOW = new Date(T0).toISOString();

describe('rewrap of an envelope whose data key a revoked version created', () => {
  let home: TestHome;
  beforeEach(async () => {
    home = new TestHome('rekey-rewrap-origin-');
    await home.ok(['keyring', 'create', 'pii', '--propagation', '0s'], { now: NOW });
  });
  afterEach(() => {
    home.remove();
  });

  it('is refused after the revocation, and the same rewrap before it worked', async () => {
    // Prepare: an envelope made under v1, re-wrapped to v2 after a rotation (origin stays 1).
    const v1 = (await home.ok(['encrypt', 'pii'], { now: NOW, stdin: Buffer.from('card 4111') })).stdout;
    await home.ok(['rotate', 'pii'], { now: at(1) });
    await home.ok(['tick', 'pii'], { now: at(1, 1) });
    const v2 = (await home.ok(['rewrap'], { now: at(1, 2), stdin: v1 })).stdout;
    const head = await home.json<{ version: number; originVersion: number }>(['inspect'], { now: at(1, 2), stdin: v2 });
    await home.run(['revoke', 'pii', '--version', '1', '--reason', 'SEC-1 exposure', '--yes'], { now: at(2) });

    // Act
    const refused = await home.run(['rewrap'], { now: at(2, 1), stdin: v2 });
    const stillUnderV1 = await home.run(['decrypt'], { now: at(2, 1), stdin: v1 });
    const readable = await home.run(['decrypt'], { now: at(2, 1), stdin: v2 });

    // Assess
    expect(head).toMatchObject({ version: 2, originVersion: 1 });
    expectFailure(refused, 3, /version 1 of keyring 'pii' is revoked/);
    // The copy still under v1 is refused; the re-wrapped one still reads, so it can be re-encrypted.
    expectFailure(stillUnderV1, 3, /version 1 of keyring 'pii' is revoked/);
    expect({ code: readable.code, text: readable.stdout.toString() }).toEqual({ code: 0, text: 'card 4111' });
  });
});
