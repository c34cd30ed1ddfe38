import middy from '@middy/core';
import * as z from 'zod';
import { AccessDeniedError, ConflictError, FrozenError, KeyUnavailableError, UnknownKeyringError, ValidationError } from '../../../shared/errors';
import { formatIssues } from '../../../shared/lambda/middleware/format-issues';
import { DEPLOYMENT_FAULT_CODES, mapErrors } from '../../../shared/lambda/middleware/map-errors';
import { validateEvent } from '../../../shared/lambda/middleware/validate-event';
import { rotateEventSchema, reencryptEventSchema } from '../../../shared/vocabulary/event-schemas';

function recorder() {
  const lines: Array<{ level: string; message: string; extra: unknown }> = [];
  const points: Array<{ name: string; dims: unknown }> = [];
  return {
    lines,
    points,
    logger: {
      warn: (message: string, extra: unknown) => lines.push({ level: 'warn', message, extra }),
      error: (message: string, extra: unknown) => lines.push({ level: 'error', message, extra }),
    },
    metrics: { put: (name: string, _v: number, dims: unknown) => points.push({ name, dims }) },
  };
}

function build(fn: (event: unknown) => Promise<unknown>, schema: z.ZodType = z.strictObject({ keyring: z.string() })) {
  const r = recorder();
  const handler = middy()
    .use(mapErrors({ logger: r.logger, metrics: r.metrics, functionName: 'test' }))
    .use(validateEvent({ schema }))
    .handler(fn);
  return { handler, ...r };
}

describe('validateEvent', () => {
  describe('before', () => {
    it('passes the parsed event to the handler', async () => {
      // Prepare
      const seen: unknown[] = [];
      const { handler } = build(async (e) => {
        seen.push(e);
        return { ok: true };
      });
      // Act
      const out = await handler({ keyring: 'k' }, {} as never);
      // Assess
      expect(out).toEqual({ ok: true });
      expect(seen).toEqual([{ keyring: 'k' }]);
    });

    it('rejects a bad event before the handler runs', async () => {
      // Prepare
      let ran = false;
      const { handler } = build(async () => {
        ran = true;
      });
      // Act
      const out = await handler({ keyring: 1, extra: true }, {} as never);
      // Assess
      expect(ran).toBe(false);
      expect(out).toMatchObject({ ok: false, error: { code: 'VALIDATION', name: 'ValidationError' } });
      expect((out as { error: { message: string } }).error.message).toMatch(/keyring: .*expected string.*; event: unexpected field 'extra'|event: unexpected field 'extra'.*keyring/);
    });

    it('throws a TypeError at build time without a schema', () => {
      // Prepare
      const options = {} as never;
      // Act
      const build = () => validateEvent(options);
      // Assess
      expect(build).toThrow(TypeError);
    });
  });
});

describe('mapErrors', () => {
  describe('onError', () => {
    it('answers a caller-fault RekeyError with a failure response, counts it and warns', async () => {
      // Prepare
      const { handler, points, lines } = build(async () => {
        throw new FrozenError("keyring 'k' is frozen; rotation is paused");
      });
      // Act
      const out = await handler({ keyring: 'k' }, {} as never);
      // Assess
      expect(out).toEqual({ ok: false, error: { code: 'FROZEN', name: 'FrozenError', message: "keyring 'k' is frozen; rotation is paused", retryable: false } });
      expect(points).toEqual([{ name: 'HandlerFailures', dims: { function: 'test', code: 'FROZEN' } }]);
      expect(lines[0]?.level).toBe('warn');
    });

    it('answers an invalid event with a VALIDATION failure response, counted in HandlerFailures', async () => {
      // Prepare
      const { handler, points } = build(async () => ({ ok: true }));
      // Act
      const out = await handler({ keyring: 7 }, {} as never);
      // Assess
      expect(out).toMatchObject({ ok: false, error: { code: 'VALIDATION' } });
      expect(points).toEqual([{ name: 'HandlerFailures', dims: { function: 'test', code: 'VALIDATION' } }]);
    });

    it.each([
      ['ACCESS_DENIED', () => new AccessDeniedError('s3:GetObject denied on the catalog')],
      ['UNKNOWN_KEYRING', () => new UnknownKeyringError('k')],
      ['KEY_UNAVAILABLE', () => new KeyUnavailableError('the keyring key is disabled')],
    ])('fails the invocation on the deployment fault %s, counted and logged as an error', async (code, make) => {
      // Prepare
      const thrown = make();
      const { handler, points, lines } = build(async () => {
        throw thrown;
      });
      // Act
      const err = await handler({ keyring: 'k' }, {} as never).catch((e: unknown) => e);
      // Assess: the invocation fails with the error itself, so async retries, the failure queue
      // and the Errors metric (all alarmed) see it.
      expect(err).toBe(thrown);
      expect(DEPLOYMENT_FAULT_CODES.has(code as never)).toBe(true);
      expect(points).toEqual([{ name: 'HandlerFailures', dims: { function: 'test', code } }]);
      expect(lines[0]).toMatchObject({ level: 'error', extra: { error: { code } } });
    });

    it('rethrows a retryable RekeyError so the invoker retries', async () => {
      // Prepare
      const { handler } = build(async () => {
        throw new ConflictError('lost a race');
      });
      // Act
      const err = await handler({ keyring: 'k' }, {} as never).catch((e: unknown) => e);
      // Assess
      expect(err).toBeInstanceOf(ConflictError);
    });

    it('rethrows anything else as a retryable BackendError without its message', async () => {
      // Prepare
      const { handler, lines } = build(async () => {
        throw new TypeError('x is undefined');
      });
      // Act
      const err = await handler({ keyring: 'k' }, {} as never).catch((e: unknown) => e);
      // Assess
      expect(err).toMatchObject({ code: 'BACKEND', retryable: true, message: 'test failed unexpectedly (TypeError)' });
      expect(lines[0]).toMatchObject({ level: 'error', extra: { error: { name: 'TypeError' } } });
    });
  });
});

describe('formatIssues', () => {
  describe('messages', () => {
    it('explains the branch of a union closest to the input', () => {
      // Prepare
      const result = reencryptEventSchema.safeParse({ BatchInput: { keyring: 'k', bucket: 'bucket', prefix: 'p/', mode: 'shred' }, Items: [{ Key: 'p/a' }] });
      // Act
      const message = formatIssues('invalid event', result.error!.issues);
      // Assess
      expect(message).toContain('BatchInput.mode');
      expect(message).not.toContain('invocationSchemaVersion');
    });

    it('stays short for huge and numerous problems', () => {
      // Prepare
      const result = rotateEventSchema.safeParse({ ['x'.repeat(10_000)]: 1, keyring: 'y'.repeat(10_000), keyrings: [1, 2, 3, 4, 5, 6] });
      // Act
      const message = formatIssues('invalid event', result.error!.issues);
      // Assess
      expect(message.length).toBeLessThan(1200);
      expect(message).toContain('more');
    });
  });
});

describe('ValidationError', () => {
  describe('shape', () => {
    it('is not retryable', () => {
      // Prepare
      const err = new ValidationError('x');
      // Act
      const retryable = err.retryable;
      // Assess
      expect(retryable).toBe(false);
    });
  });
});
