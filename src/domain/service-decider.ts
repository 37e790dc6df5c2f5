import type { Decider } from './decider.js';
import { decideDeployment, type DeploymentCommand } from './deployment.js';
import { decideExecutionLease, type ExecutionLeaseCommand } from './execution-lease.js';
import { decideFeatureFlag, type FeatureFlagCommand } from './feature-flags.js';
import { assertRegistered, decideRegistration, type RegistrationCommand } from './registration.js';
import { decideRollback, type RollbackCommand } from './rollback.js';
import { decideScaling, type ScalingCommand } from './scaling.js';
import { evolveService, initialServiceState, type ServiceState } from './service.js';

export type ServiceCommand =
  | RegistrationCommand
  | DeploymentCommand
  | RollbackCommand
  | FeatureFlagCommand
  | ScalingCommand
  | ExecutionLeaseCommand;

export const serviceDecider: Decider<ServiceCommand, ServiceState> = {
  initialState: initialServiceState,
  evolve: evolveService,
  decide(state, command) {
    if (command.type === 'RegisterService') return decideRegistration(state, command);
    assertRegistered(state, command.service);
    switch (command.type) {
      case 'RequestDeployment':
      case 'StartDeployment':
      case 'MarkDeploymentHealthy':
      case 'MarkDeploymentFailed':
      case 'CancelDeployment':
      case 'ExpireDeployment':
        return decideDeployment(state, command);
      case 'RenewExecutionLease':
      case 'TakeOverExecution':
        return decideExecutionLease(state, command);
      case 'DisableFeature':
      case 'EnableFeature':
        return decideFeatureFlag(state, command);
      case 'RequestScale':
      case 'CompleteScale':
      case 'FailScale':
        return decideScaling(state, command);
      default:
        return decideRollback(state, command);
    }
  },
};
