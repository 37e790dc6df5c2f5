import { InvalidYamlFile, parseYaml, readYamlFile } from '../config/yaml-file.js';
import { defaultRollbackPolicy, rollbackPolicySchema, type RollbackPolicy } from './rollback-policy.js';

const KIND = 'InvalidPolicyFile';

/** A policy file Failsafe refuses to start with; every problem is listed with its line. */
export { InvalidYamlFile as InvalidPolicyFile };

/** Parses policy YAML; `source` names the file in messages. */
export const parsePolicy = (text: string, source: string): RollbackPolicy =>
  parseYaml(rollbackPolicySchema, text, source, KIND);

/** The policy in force: the file when given, else the seeds' defaults. */
export const loadPolicy = (path: string | undefined): RollbackPolicy =>
  path ? readYamlFile(rollbackPolicySchema, path, KIND) : defaultRollbackPolicy;
