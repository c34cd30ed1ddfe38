/**
 * The twin's authorizer: decides every request as AWS would, before moto (which enforces
 * nothing) sees it. Policies are evaluated by a real evaluator, @cloud-copilot/iam-simulate
 * (`runSimulation`, with the reviewed patch in ./iam-simulate-patch.ts); KMS grants, which are not
 * policies, are evaluated here from the live grants moto holds.
 *
 * AWS documentation this follows:
 *  - IAM User Guide, "Policy evaluation logic" and "Policy evaluation for requests within a single
 *    account" (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html,
 *    .../reference_policies_evaluation-logic_policy-eval-basics.html): within one account an Allow in
 *    either the identity-based or the resource-based policy suffices; an explicit deny in any wins.
 *  - IAM User Guide, "Cross-account policy evaluation logic"
 *    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html):
 *    a caller in another account (a role the scenario placed there) needs an Allow in its own
 *    identity policy AND in the resource's policy (the resource policy naming the role or the
 *    account root). iam-simulate decides this from the principal's account against the resource's
 *    account (`DefaultServiceAuthorizer.initialEvaluationResult`, "Cross Account"): the twin passes
 *    the resource's owner, the stack's account (S3 ARNs carry none). SCPs and RCPs are not modelled.
 *  - AWS KMS Developer Guide, "Allowing users in other accounts to use a KMS key"
 *    (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-modifying-external-accounts.html):
 *    cross-account permission is effective only for the cryptographic operations, CreateGrant,
 *    DescribeKey, GetKeyRotationStatus, GetPublicKey, ListGrants, RetireGrant and RevokeGrant;
 *    and, Step 2, "users and roles in the external account cannot use the KMS key until you attach
 *    IAM policies that delegate those permissions, or use grants to manage access to the KMS key":
 *    a grant to a principal of another account is enough on its own (grants are, with key
 *    policies, KMS's resource-based mechanism: "Grants in AWS KMS"), no identity policy needed.
 *  - kms:CallerAccount is the account of the caller ("AWS KMS condition keys"), not the key's.
 *  - AWS KMS Developer Guide, "Default key policy", section "Allows access to the AWS account and
 *    enables IAM policies" (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html):
 *    an identity policy counts for a KMS key only where the key policy allows the account principal
 *    (arn:aws:iam::ACCOUNT:root) for that action; rekey's keys give the root administration only.
 *    iam-simulate's KmsServiceAuthorizer implements exactly that ('AllowedForAccount').
 *  - Role trust policies: the trust policy must allow sts:AssumeRole even within the account
 *    (iam-simulate's StsServiceAuthorizer); service principals are allowed only by resource policies.
 *  - AWS KMS API Reference, "GrantConstraints" and CreateGrant "Constraints" (grants: ./kms-grants.ts);
 *    a grant allows what no policy does, but never past an explicit deny.
 *  - Deny messages follow the IAM User Guide, "Troubleshoot access denied error messages" shape:
 *    `User: <arn> is not authorized to perform: <action> on resource: <arn> because no
 *    identity-based policy allows the <action> action` / `... with an explicit deny in a
 *    resource-based policy`.
 *  - Global condition keys: IAM User Guide, "AWS global condition context keys"
 *    (aws:PrincipalArn is the role ARN for a role session, aws:PrincipalType `AssumedRole`).
 */
import {
  anonymousPrincipal,
  isWildcardOnlyAction,
  type RequestAnalysis,
  type RunSimulationResults,
  type Simulation,
  type SimulationRequestPrincipal,
} from '@cloud-copilot/iam-simulate';
import type { TwinRole, TwinWorld } from '../world';
import { installIamSimulatePatch, isIamSimulatePatchInstalled, runSimulationWithTemplatedKeys } from './iam-simulate-patch';
import { encryptionContextOf, grantVerdict, type GrantVerdict } from './kms-grants';
import { parseArn, resourcePolicyFor, type ResourcePolicyChoice } from './resource-policies';
import type { AuthzDecision, AuthzRequest, GrantSource, RequestAuthorizer, RequestContext } from './types';

/** Who the request is from, in the terms the evaluator needs. */
interface Caller {
  /** What the deny message names (the request's own principal ARN, session ARN included). */
  readonly label: string;
  readonly simPrincipal: SimulationRequestPrincipal;
  readonly role?: TwinRole;
  readonly kind: 'role' | 'service' | 'anonymous';
  /** The account of a role caller (from its ARN): decides same- or cross-account evaluation. */
  readonly account?: string;
  /** Global condition keys AWS supplies for this principal. */
  readonly keys: Record<string, string>;
}

const ASSUMED_ROLE = /^arn:([^:]+):sts::(\d{12}):assumed-role\/([^/]+)\/(.+)$/;

/**
 * KMS operations for which a permission given to another account has any effect (AWS KMS
 * Developer Guide, "Allowing users in other accounts to use a KMS key": the cryptographic
 * operations, CreateGrant, DescribeKey, GetKeyRotationStatus, GetPublicKey, ListGrants,
 * RetireGrant, RevokeGrant). Lower case: IAM action names are case-insensitive.
 */
export const KMS_CROSS_ACCOUNT_ACTIONS: ReadonlySet<string> = new Set(
  [
    'Decrypt', 'Encrypt', 'GenerateDataKey', 'GenerateDataKeyPair', 'GenerateDataKeyPairWithoutPlaintext', 'GenerateDataKeyWithoutPlaintext',
    'GenerateMac', 'VerifyMac', 'ReEncryptFrom', 'ReEncryptTo', 'Sign', 'Verify', 'DeriveSharedSecret',
    'CreateGrant', 'DescribeKey', 'GetKeyRotationStatus', 'GetPublicKey', 'ListGrants', 'RetireGrant', 'RevokeGrant',
  ].map((a) => `kms:${a.toLowerCase()}`),
);

/** `service:Action` → `Action` for grant operations. */
function kmsOperation(action: string): string {
  return action.slice(action.indexOf(':') + 1);
}

/** The request's condition keys as iam-simulate takes them (strings or string lists). */
function toContextVariables(context: RequestContext | undefined): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [key, value] of Object.entries(context ?? {})) {
    out[key] = Array.isArray(value) ? value.map(String) : String(value);
  }
  return out;
}

/** The policy kind a resource-policy deny message names. */
function resourceKindLabel(choice: ResourcePolicyChoice): string {
  return choice.kind === 'none' ? 'resource-based policy' : `resource-based policy (${choice.kind})`;
}

/**
 * Evaluates requests against the twin's world: identity policies of the caller's role, the
 * resource's policy, key policies (authoritative for KMS), trust policies, and live KMS grants.
 *
 * @example
 * const authz = new Authorizer(world, new MotoGrantSource({ endpoint: moto.url }));
 * const d = await authz.authorize({ principal: { kind: 'role', arn }, action: 'kms:Decrypt', resource: keyArn, context });
 */
export class Authorizer implements RequestAuthorizer {
  public constructor(
    private readonly world: TwinWorld,
    private readonly grants: GrantSource,
  ) {
    installIamSimulatePatch();
  }

  /** Policy evaluations by their whole input (see {@link Authorizer.simulate}). */
  private readonly simulations = new Map<string, Promise<RunSimulationResults>>();

  /** May `request.principal` do `request.action` on `request.resource`? With AWS's reason. */
  public async authorize(request: AuthzRequest): Promise<AuthzDecision> {
    const { action } = request;
    const caller = this.resolveCaller(request);
    if (caller === undefined) {
      const who = request.principal.kind === 'role' ? request.principal.arn : 'unknown';
      const account = request.principal.kind === 'role' ? (parseArn(who)?.account ?? '') : '';
      const where = account === '' || account === this.world.account ? 'this account' : `account ${account}`;
      return { allowed: false, reason: `User: ${who} is not authorized to perform: ${action} on resource: ${request.resource} because the principal is not a role of ${where}` };
    }
    const [service = '', name = ''] = action.split(':');
    const wildcardOnly = await isWildcardOnlyAction(service, name).catch(() => false);
    const resource = wildcardOnly ? '*' : request.resource;
    const choice = resourcePolicyFor(this.world, action, resource);
    const crossAccount = caller.account !== undefined && caller.account !== choice.accountId;

    const context: Record<string, string | string[]> = { 'aws:SecureTransport': 'true', ...toContextVariables(request.context), ...caller.keys };
    // The caller's account, whatever the request mapper assumed (S3 calling KMS on a caller's behalf included).
    if (service === 'kms' && caller.account !== undefined) context['kms:CallerAccount'] = caller.account;
    if (crossAccount && choice.isKmsKey && !KMS_CROSS_ACCOUNT_ACTIONS.has(action.toLowerCase())) {
      return { allowed: false, reason: `User: ${caller.label} is not authorized to perform: ${action} on resource: ${request.resource} because ${action} is not a cross-account operation of AWS KMS` };
    }

    const simulation: Simulation = {
      request: { principal: caller.simPrincipal, action, resource: { resource, accountId: choice.accountId }, contextVariables: context },
      identityPolicies: (caller.role?.policies ?? []).map((policy, i) => ({ name: `${caller.role!.name}#${i}`, policy })),
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      ...(choice.policy !== undefined ? { resourcePolicy: choice.policy } : {}),
    };
    const outcome = await this.simulate(simulation);
    if (outcome.resultType === 'error') {
      // An invalid policy or action is a twin/template defect: deny loudly rather than guess.
      return { allowed: false, reason: `twin authorizer could not evaluate ${action} on ${resource}: ${outcome.errors.message} ${JSON.stringify(outcome.errors)}` };
    }
    const analysis = analysisOf(outcome);
    const prefix = `User: ${caller.label} is not authorized to perform: ${action} on resource: ${request.resource}`;

    if (outcome.overallResult === 'Allowed') return { allowed: true, reason: allowedReason(analysis, choice) };
    if (outcome.overallResult === 'ExplicitlyDenied') {
      const inIdentity = analysis?.identityAnalysis?.result === 'ExplicitlyDenied';
      return { allowed: false, reason: `${prefix} with an explicit deny in ${inIdentity ? 'an identity-based policy' : `a ${resourceKindLabel(choice)}`}` };
    }

    // Implicitly denied by policies: a live grant may still allow a KMS key operation.
    let grantNote = '';
    if (choice.isKmsKey && choice.keyArn !== undefined && caller.role !== undefined) {
      const verdicts = await this.grantVerdicts(choice.keyArn, caller.role.arn, kmsOperation(action), request.context);
      const allowing = verdicts.find((v) => v.verdict === 'allows');
      if (allowing !== undefined) return { allowed: true, reason: `allowed by KMS grant ${allowing.grantId}` };
      if (verdicts.some((v) => v.verdict === 'constraint-mismatch')) grantNote = ', and no grant allows it: grant constraint does not match the encryption context';
    }
    return { allowed: false, reason: `${prefix} because no ${this.missingAllow(caller, choice, analysis, crossAccount)} policy allows the ${action} action${grantNote}` };
  }

  /**
   * runSimulation, memoized: it is a pure function of its input (request, context keys, identity
   * and resource policies, all in the key), and at several milliseconds a call it dominated long
   * scenarios that repeat the same requests every schedule tick. KMS grants are live and never
   * cached here. The patch state is part of the key (the authz test evaluates without it too).
   */
  private simulate(simulation: Simulation): Promise<RunSimulationResults> {
    const policies = JSON.stringify({ ...simulation, request: null });
    // Every request carries its own time; a decision depends on it only where a policy names it.
    const timeFree = !/aws:(currenttime|epochtime)/i.test(policies);
    const { 'aws:CurrentTime': _time, 'aws:EpochTime': _epoch, ...timeless } = simulation.request.contextVariables;
    const request = timeFree ? { ...simulation.request, contextVariables: timeless } : simulation.request;
    const key = `${isIamSimulatePatchInstalled() ? 'patched' : 'stock'}\0${policies}\0${JSON.stringify(request)}`;
    const known = this.simulations.get(key);
    if (known !== undefined) return known;
    if (this.simulations.size >= 20_000) this.simulations.clear();
    const running = runSimulationWithTemplatedKeys(simulation);
    this.simulations.set(key, running);
    // A failed evaluation is not remembered.
    running.catch(() => this.simulations.get(key) === running && this.simulations.delete(key));
    return running;
  }

  /** Maps the request's principal to the twin's role (role ARN or assumed-role session ARN), a service or anonymous. */
  private resolveCaller(request: AuthzRequest): Caller | undefined {
    const p = request.principal;
    if (p.kind === 'anonymous') return { label: 'anonymous', simPrincipal: anonymousPrincipal, kind: 'anonymous', keys: { 'aws:PrincipalType': 'Anonymous' } };
    if (p.kind === 'service') {
      return { label: p.service, simPrincipal: p.service, kind: 'service', keys: { 'aws:PrincipalServiceName': p.service, 'aws:PrincipalIsAWSService': 'true' } };
    }
    const session = ASSUMED_ROLE.exec(p.arn);
    const role = session ? this.roleByName(session[2]!, session[3]!) : (this.world.roles.get(p.arn) ?? [...this.world.roles.values()].find((r) => r.arn === p.arn));
    if (role === undefined) return undefined;
    const account = parseArn(role.arn)?.account ?? this.world.account;
    return {
      label: p.arn,
      simPrincipal: p.arn,
      role,
      kind: 'role',
      account,
      keys: { 'aws:PrincipalArn': role.arn, 'aws:PrincipalAccount': account, 'aws:PrincipalType': 'AssumedRole', 'aws:PrincipalIsAWSService': 'false' },
    };
  }

  private roleByName(account: string, name: string): TwinRole | undefined {
    for (const role of this.world.roles.values()) {
      if (role.name === name && parseArn(role.arn)?.account === account) return role;
    }
    return undefined;
  }

  private async grantVerdicts(keyArn: string, grantee: string, operation: string, context: RequestContext | undefined): Promise<{ grantId: string; verdict: GrantVerdict }[]> {
    const live = await this.grants.grantsFor(keyArn);
    const encryptionContext = encryptionContextOf(context);
    return live.map((g) => ({ grantId: g.grantId, verdict: grantVerdict(g, grantee, operation, encryptionContext) }));
  }

  /** Which policy type AWS says is missing an Allow. */
  private missingAllow(caller: Caller, choice: ResourcePolicyChoice, analysis: RequestAnalysis | undefined, crossAccount: boolean): string {
    if (caller.kind !== 'role') return 'resource-based';
    // Across accounts both sides must allow: name the one that did not.
    if (crossAccount) {
      const resourceAllows = analysis?.resourceAnalysis?.result === 'Allowed' || analysis?.resourceAnalysis?.result === 'AllowedForAccount';
      return resourceAllows ? 'identity-based' : 'resource-based';
    }
    if (choice.kind === 'trust policy') return 'resource-based';
    // KMS: an identity policy was what was missing only where the key policy trusts the account for this action.
    if (choice.isKmsKey) return analysis?.resourceAnalysis?.result === 'AllowedForAccount' ? 'identity-based' : 'resource-based';
    return 'identity-based';
  }
}

/** The analysis of a single or wildcard simulation (the first result of a wildcard one). */
function analysisOf(outcome: Exclude<RunSimulationResults, { resultType: 'error' }>): RequestAnalysis | undefined {
  return outcome.resultType === 'single' ? outcome.result.analysis : outcome.results[0]?.analysis;
}

function allowedReason(analysis: RequestAnalysis | undefined, choice: ResourcePolicyChoice): string {
  const by: string[] = [];
  if (analysis?.identityAnalysis?.result === 'Allowed') by.push('identity-based policy');
  if (analysis?.resourceAnalysis?.result === 'Allowed') by.push(choice.kind);
  if (analysis?.resourceAnalysis?.result === 'AllowedForAccount') by.push(`${choice.kind} (account principal)`);
  return `allowed by ${by.length > 0 ? by.join(' and ') : 'policy'}`;
}
