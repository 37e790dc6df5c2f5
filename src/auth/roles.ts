/** The roles a token may carry; each action names the permission it needs. */
export const ROLES = ['viewer', 'operator', 'approver', 'auditor', 'admin', 'alertmanager'] as const;
export type Role = (typeof ROLES)[number];

export type Permission =
  | 'read' // services, status, deployments, migrations, drills
  | 'operate' // deploy, request a rollback, disable or enable a tool, revert a migration, start a drill
  | 'approve' // approve someone else's rollback
  | 'audit' // the raw event history, past states, explanations of decisions
  | 'report_alerts'; // deliver Alertmanager notifications to /alerts/alertmanager, and nothing else

const GRANTS: Record<Role, readonly Permission[]> = {
  viewer: ['read'],
  operator: ['read', 'operate'],
  approver: ['read', 'approve'],
  auditor: ['read', 'audit'],
  admin: ['read', 'operate', 'approve', 'audit', 'report_alerts'],
  // Alertmanager's token: a leaked one can report alerts, not read the fleet nor act on it.
  alertmanager: ['report_alerts'],
};

export const can = (role: Role, permission: Permission): boolean => GRANTS[role].includes(permission);

/** The roles that hold a permission, for error messages that say which token to ask for. */
export const rolesWith = (permission: Permission): Role[] => ROLES.filter((role) => can(role, permission));

/** Who is calling: the token's name (recorded as the actor of every event) and its role. */
export interface Principal {
  readonly name: string;
  readonly role: Role;
}

export class Forbidden extends Error {
  readonly code = 'FORBIDDEN';
  constructor(
    readonly principal: Principal,
    readonly permission: Permission,
  ) {
    super(
      `Forbidden: ${principal.name} (role ${principal.role}) may not ${permission}; ` +
        `this needs a token with role ${rolesWith(permission).join(' or ')}`,
    );
    this.name = 'Forbidden';
  }
}

export function authorize(principal: Principal, permission: Permission): void {
  if (!can(principal.role, permission)) throw new Forbidden(principal, permission);
}
