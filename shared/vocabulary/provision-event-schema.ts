/**
 * zod schemas (zod/mini, see ./zod) of the CloudFormation custom resource requests the
 * `provision` function answers: one `Custom::RekeyKeyring` per configured keyring.
 *
 * The request envelope is CloudFormation's (fields from "Custom resource request objects",
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-requests.html):
 * RequestType, RequestId, ResponseURL, ResourceType, LogicalResourceId, StackId,
 * ResourceProperties, plus PhysicalResourceId on Update and Delete and OldResourceProperties on
 * Update. It is checked loosely (CloudFormation may add fields, such as the top-level
 * ServiceToken); the ResourceProperties are rekey's own and checked strictly.
 *
 * Two levels: {@link provisionResponseTargetSchema} is the least a request must carry to be
 * answered at all, so that a request which fails the full schema still gets its FAILED answer
 * and never leaves the stack waiting for the custom resource timeout.
 */
import { parseDuration } from './duration';
import * as z from './zod';
import { keyringName } from './names';

/** The resource type the stack declares for each keyring. */
export const PROVISION_RESOURCE_TYPE = 'Custom::RekeyKeyring';

// CloudFormation identifiers: bounded, printable, never empty.
const cfnText = (max: number) => z.string().check(z.minLength(1, 'must not be empty'), z.maxLength(max));

/** A policy duration as the stack passes it (`30d`, `15m`, ...). */
const durationText = /* @__PURE__ */ z.lazy(() =>
  z.string().check(
    z.maxLength(16),
    z.refine((text: string) => {
      try {
        parseDuration(text);
        return true;
      } catch {
        return false;
      }
    }, 'must be a duration such as 90d, 36h, 10m or 30s'),
  ),
);

/**
 * What the stack sets on each keyring's custom resource (CloudFormation passes every property
 * value as written in the template: strings). ServiceToken is required by CloudFormation and
 * sent back verbatim; ServiceTimeout is CloudFormation's own optional property.
 */
export const keyringPropertiesSchema = /* @__PURE__ */ z.lazy(() =>
  z.strictObject({
    ServiceToken: cfnText(2048),
    ServiceTimeout: z.optional(cfnText(8)),
    Keyring: keyringName,
    RotateEvery: durationText,
    Grace: durationText,
    Propagation: durationText,
    Retention: durationText,
    // Optional: absent from templates synthesized before the quiet period and the destruction
    // opt-in existed (an Update's OldResourceProperties), and absent means the defaults.
    Quiet: z.optional(durationText),
    DestroyAfterRetention: z.optional(z.enum(['true', 'false'], "must be 'true' or 'false'")),
    Sensitivity: z.optional(z.enum(['low', 'moderate', 'high'], "must be 'low', 'moderate' or 'high'")),
  }),
);
/** The parsed properties of one keyring's custom resource. */
export type KeyringProperties = z.output<typeof keyringPropertiesSchema>;

/**
 * The fields a response copies from its request ("Custom resource response objects":
 * StackId, RequestId and LogicalResourceId verbatim) and where it goes (ResponseURL).
 */
export const provisionResponseTargetSchema = /* @__PURE__ */ z.lazy(() =>
  z.looseObject({
    ResponseURL: cfnText(8192),
    StackId: cfnText(2048),
    RequestId: cfnText(1024),
    LogicalResourceId: cfnText(255),
    // Up to 1 KB, as the response object documents for PhysicalResourceId.
    PhysicalResourceId: z.optional(cfnText(1024)),
  }),
);
/** The answerable part of a request. */
export type ProvisionResponseTarget = z.output<typeof provisionResponseTargetSchema>;

const common = () => ({
  ResponseURL: cfnText(8192),
  StackId: cfnText(2048),
  RequestId: cfnText(1024),
  LogicalResourceId: cfnText(255),
  ResourceType: z.literal(PROVISION_RESOURCE_TYPE, `must be '${PROVISION_RESOURCE_TYPE}'`),
  ResourceProperties: keyringPropertiesSchema,
});

/** A Create, Update or Delete request for one keyring. */
export const provisionEventSchema = /* @__PURE__ */ z.lazy(() =>
  z.discriminatedUnion('RequestType', [
    z.looseObject({ ...common(), RequestType: z.literal('Create') }),
    z.looseObject({ ...common(), RequestType: z.literal('Update'), PhysicalResourceId: cfnText(1024), OldResourceProperties: keyringPropertiesSchema }),
    // A Delete must be answered even when the properties it carries are from an older stack
    // version: it changes nothing, so only the envelope is required.
    z.looseObject({
      ResponseURL: cfnText(8192),
      StackId: cfnText(2048),
      RequestId: cfnText(1024),
      LogicalResourceId: cfnText(255),
      ResourceType: cfnText(60),
      RequestType: z.literal('Delete'),
      PhysicalResourceId: cfnText(1024),
    }),
  ]),
);
/** The parsed provision request. */
export type ProvisionEvent = z.output<typeof provisionEventSchema>;
