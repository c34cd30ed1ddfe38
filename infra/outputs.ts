/**
 * The stack's output names: the table lives in shared/config/stack-outputs.ts, where the CLI's
 * AWS mode reads it too without importing CDK code.
 */
export { STACK_OUTPUTS, type StackOutputKey } from '../shared/config/stack-outputs';
