import { ValidationError } from '../../../shared/errors';
import { parseKeyAccessEvent } from '../../../shared/usecases/key-access';

/**
 * S3's `Object Created` event as EventBridge delivers it, copied in shape from the example
 * "Object created" of "EventBridge event message structure", Amazon S3 User Guide
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html), for a write of a
 * consumer registry document.
 */
function objectCreated(key: string): Record<string, unknown> {
  return {
    version: '0',
    id: '17793124-05d4-b198-2fde-7ededc63b103',
    'detail-type': 'Object Created',
    source: 'aws.s3',
    account: '111122223333',
    time: '2021-11-12T00:00:00Z',
    region: 'ca-central-1',
    resources: ['arn:aws:s3:::amzn-s3-demo-bucket1'],
    detail: {
      version: '0',
      bucket: { name: 'amzn-s3-demo-bucket1' },
      object: { key, size: 5, etag: 'b1946ac92492d2347c6235b4d2611184', 'version-id': 'IYV3p45BT0ac8hjHg1houSdS1a.Mro8e', sequencer: '617f08299329d189' },
      'request-id': 'N4N7GDK58NMKJ12R',
      requester: '123456789012',
      'source-ip-address': '1.2.3.4',
      reason: 'PutObject',
    },
  };
}

describe('key-access event parsing (consumer registry writes)', () => {
  it('maps the documented S3 Object Created event of consumers/<keyring>.json to that keyring', () => {
    // Act
    const request = parseKeyAccessEvent(objectCreated('consumers/pii.json'), ['pii', 'ops'], 'catalog/');
    // Assess
    expect(request).toEqual({ keyrings: ['pii'] });
  });

  it('still maps a catalog write to its keyring', () => {
    // Act / Assess
    expect(parseKeyAccessEvent(objectCreated('catalog/ops.json'), ['pii', 'ops'], 'catalog/')).toEqual({ keyrings: ['ops'] });
  });

  it.each<[string, unknown]>([
    ['a registry document of an unknown keyring', objectCreated('consumers/payments.json')],
    ['an object under consumers/ that is no document', objectCreated('consumers/pii.txt')],
    ['a nested key under consumers/', objectCreated('consumers/x/pii.json')],
    ['an event without the object key', { ...objectCreated('consumers/pii.json'), detail: { bucket: { name: 'b' } } }],
    ['an event of another source', { ...objectCreated('consumers/pii.json'), source: 'aws.s4' }],
  ])('throws ValidationError for %s', (_what, event) => {
    // Act / Assess
    expect(() => parseKeyAccessEvent(event, ['pii', 'ops'], 'catalog/')).toThrow(ValidationError);
  });
});
