/**
 * Alarms, dashboards, log groups and the CDK metadata resource. Alarms go to moto's CloudWatch
 * too (PutMetricAlarm takes the same field names as AWS::CloudWatch::Alarm: CloudFormation
 * Template Reference and CloudWatch API Reference "PutMetricAlarm"); the alarm driver reads the
 * resolved properties from the world. Log groups and dashboards are recorded only.
 */
import { DeleteAlarmsCommand, PutMetricAlarmCommand, type PutMetricAlarmCommandInput } from '@aws-sdk/client-cloudwatch';
import { generatedName } from '../names';
import type { ResourceHandler } from '../types';
import { arnOf, optNumber, optString } from './util';

const alarm: ResourceHandler = {
  async apply(ctx) {
    const name = ctx.previous?.physicalId ?? optString(ctx.properties, 'AlarmName') ?? generatedName(ctx.stackName, ctx.logicalId, { max: 255 });
    const properties = { ...ctx.properties, AlarmName: name };
    await ctx.aws.cloudwatch.send(new PutMetricAlarmCommand(properties as unknown as PutMetricAlarmCommandInput));
    ctx.world.alarms.set(name, { logicalId: ctx.logicalId, name, properties });
    return { physicalId: name, attributes: { Arn: arnOf(ctx, 'cloudwatch', `alarm:${name}`) } };
  },
  async remove(ctx, previous) {
    await ctx.aws.cloudwatch.send(new DeleteAlarmsCommand({ AlarmNames: [previous.physicalId] }));
    ctx.world.alarms.delete(previous.physicalId);
  },
};

const dashboard: ResourceHandler = {
  async apply(ctx) {
    const name = ctx.previous?.physicalId ?? optString(ctx.properties, 'DashboardName') ?? generatedName(ctx.stackName, ctx.logicalId, { max: 255 });
    const body = optString(ctx.properties, 'DashboardBody') ?? '';
    JSON.parse(body);
    ctx.extras.dashboards.set(name, { logicalId: ctx.logicalId, body });
    return { physicalId: name, attributes: {} };
  },
  async remove(ctx, previous) {
    ctx.extras.dashboards.delete(previous.physicalId);
  },
};

const logGroup: ResourceHandler = {
  async apply(ctx) {
    const name = ctx.previous?.physicalId ?? optString(ctx.properties, 'LogGroupName') ?? generatedName(ctx.stackName, ctx.logicalId, { max: 512 });
    const arn = arnOf(ctx, 'logs', `log-group:${name}:*`);
    const retentionInDays = optNumber(ctx.properties, 'RetentionInDays');
    ctx.extras.logGroups.set(name, { logicalId: ctx.logicalId, name, arn, ...(retentionInDays === undefined ? {} : { retentionInDays }) });
    return { physicalId: name, attributes: { Arn: arn } };
  },
  async remove(ctx, previous) {
    ctx.extras.logGroups.delete(previous.physicalId);
  },
};

/** CDK's analytics resource: nothing to create. */
const cdkMetadata: ResourceHandler = {
  async apply(ctx) {
    return { physicalId: ctx.previous?.physicalId ?? `${ctx.stackName}-${ctx.logicalId}`, attributes: {} };
  },
};

/** Handlers by resource type. */
export const MONITORING_HANDLERS: Readonly<Record<string, ResourceHandler>> = {
  'AWS::CloudWatch::Alarm': alarm,
  'AWS::CloudWatch::Dashboard': dashboard,
  'AWS::Logs::LogGroup': logGroup,
  'AWS::CDK::Metadata': cdkMetadata,
};
