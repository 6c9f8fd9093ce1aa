//! Who is acting and what they may do: role permissions per action, API key scopes,
//! and the object-level rule that hides accounts a caller is not assigned to.
//!
//! Architecture invariant: every query that returns customers (or anything hanging off
//! a customer) filters by [`Actor::customer_visibility`], so an invisible account answers
//! exactly like a missing one.

use crate::error::ProblemCode;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::user::Role;

text_enum! {
    /// An action a caller may be allowed to take.
    pub enum Permission {
        CustomersRead = "customers:read",
        CustomersCreate = "customers:create",
        CustomersUpdate = "customers:update",
        CustomersAssign = "customers:assign",
        CustomersHold = "customers:hold",
        CustomersCreditLimit = "customers:credit_limit",
        ContactsWrite = "contacts:write",
        UsersRead = "users:read",
        UsersManage = "users:manage",
        ApiKeysManage = "api_keys:manage",
        AuditRead = "audit:read",
        InvoicesRead = "invoices:read",
        InvoicesWrite = "invoices:write",
        PaymentsRead = "payments:read",
        PaymentsWrite = "payments:write",
        /// Credit memos and adjustments.
        CreditsPost = "credits:post",
        WriteOffsRequest = "write_offs:request",
        WriteOffsApprove = "write_offs:approve",
        DeductionsResolve = "deductions:resolve",
        GlBalancesRead = "gl_balances:read",
        GlBalancesWrite = "gl_balances:write",
        ReportsRead = "reports:read",
        TasksRead = "tasks:read",
        TasksWrite = "tasks:write",
        /// Start CSV imports.
        ImportsCreate = "imports:create",
        /// Retry dead jobs.
        JobsManage = "jobs:manage",
        ActivitiesRead = "activities:read",
        /// Log calls, e-mails, visits and every other activity.
        ActivitiesWrite = "activities:write",
        /// Add a note (the only activity sales may log).
        NotesWrite = "notes:write",
        PromisesRead = "promises:read",
        PromisesWrite = "promises:write",
        DisputesRead = "disputes:read",
        /// Open, update, withdraw disputes and find them invalid.
        DisputesWrite = "disputes:write",
        /// Resolve a dispute as valid, which posts a credit memo.
        DisputesResolve = "disputes:resolve",
        /// The ranked worklist (one's own; managers any collector's).
        WorklistRead = "worklist:read",
        /// The weekly hit list for sales.
        HitListRead = "hit_list:read",
        PlansRead = "payment_plans:read",
        /// Preview and create payment plans (in policy: active at once).
        PlansWrite = "payment_plans:write",
        /// Approve plans outside policy.
        PlansApprove = "payment_plans:approve",
        /// System settings: worklist weights, plan policy, business calendar.
        SettingsManage = "settings:manage",
    }
}

text_enum! {
    /// What an integration's API key may do. Scopes are coarse on purpose: an ERP sync
    /// either reads or writes a resource.
    pub enum Scope {
        /// List and read customers and their contacts.
        CustomersRead = "customers:read",
        /// Create and update customers and their contacts.
        CustomersWrite = "customers:write",
        /// Read invoices and their ledger.
        InvoicesRead = "invoices:read",
        /// Create, upsert and void invoices.
        InvoicesWrite = "invoices:write",
        /// Read payments.
        PaymentsRead = "payments:read",
        /// Post, upsert and apply payments.
        PaymentsWrite = "payments:write",
        /// Post the general ledger's AR control balances for reconciliation.
        GlBalancesWrite = "gl_balances:write",
        /// Start CSV imports of customers, invoices and payments.
        ImportsWrite = "imports:write",
    }
}

impl Scope {
    fn grants(self, permission: Permission) -> bool {
        use Permission as P;
        match self {
            Scope::CustomersRead => matches!(permission, P::CustomersRead),
            Scope::CustomersWrite => {
                matches!(
                    permission,
                    P::CustomersCreate
                        | P::CustomersUpdate
                        | P::ContactsWrite
                        | P::CustomersCreditLimit
                )
            }
            Scope::InvoicesRead => matches!(permission, P::InvoicesRead),
            Scope::InvoicesWrite => matches!(permission, P::InvoicesWrite),
            Scope::PaymentsRead => matches!(permission, P::PaymentsRead),
            Scope::PaymentsWrite => matches!(permission, P::PaymentsWrite),
            Scope::GlBalancesWrite => matches!(permission, P::GlBalancesWrite),
            Scope::ImportsWrite => matches!(permission, P::ImportsCreate),
        }
    }
}

impl Role {
    /// The role permission table. Object-level visibility is applied on top of it.
    pub fn allows(self, permission: Permission) -> bool {
        use Permission as P;
        match self {
            Role::Admin => true,
            // Managers approve and oversee; posting money is the accountants' job.
            Role::Manager => !matches!(
                permission,
                P::UsersManage
                    | P::ApiKeysManage
                    | P::JobsManage
                    | P::InvoicesWrite
                    | P::PaymentsWrite
                    | P::CreditsPost
                    | P::GlBalancesWrite
                    | P::SettingsManage
            ),
            Role::Collector => matches!(
                permission,
                P::CustomersRead
                    | P::CustomersUpdate
                    | P::CustomersHold
                    | P::ContactsWrite
                    | P::InvoicesRead
                    | P::PaymentsRead
                    | P::WriteOffsRequest
                    | P::TasksRead
                    | P::TasksWrite
                    | P::ActivitiesRead
                    | P::ActivitiesWrite
                    | P::NotesWrite
                    | P::PromisesRead
                    | P::PromisesWrite
                    | P::DisputesRead
                    | P::DisputesWrite
                    | P::WorklistRead
                    | P::PlansRead
                    | P::PlansWrite
            ),
            Role::FieldCollector => matches!(
                permission,
                P::CustomersRead
                    | P::ContactsWrite
                    | P::InvoicesRead
                    | P::PaymentsRead
                    | P::TasksRead
                    | P::TasksWrite
                    | P::ActivitiesRead
                    | P::ActivitiesWrite
                    | P::NotesWrite
                    | P::PromisesRead
                    | P::PromisesWrite
                    | P::DisputesRead
                    | P::WorklistRead
                    | P::PlansRead
            ),
            Role::Accountant => matches!(
                permission,
                P::CustomersRead
                    | P::CustomersCreate
                    | P::CustomersUpdate
                    | P::InvoicesRead
                    | P::InvoicesWrite
                    | P::PaymentsRead
                    | P::PaymentsWrite
                    | P::CreditsPost
                    | P::WriteOffsRequest
                    | P::DeductionsResolve
                    | P::GlBalancesRead
                    | P::GlBalancesWrite
                    | P::ReportsRead
                    | P::TasksRead
                    | P::TasksWrite
                    | P::ImportsCreate
                    | P::ActivitiesRead
                    | P::NotesWrite
                    | P::PromisesRead
                    | P::DisputesRead
                    | P::DisputesResolve
                    | P::PlansRead
            ),
            Role::Sales => matches!(
                permission,
                P::CustomersRead
                    | P::InvoicesRead
                    | P::PaymentsRead
                    | P::TasksRead
                    | P::ActivitiesRead
                    | P::NotesWrite
                    | P::PromisesRead
                    | P::DisputesRead
                    | P::HitListRead
                    | P::PlansRead
            ),
            Role::Auditor => !matches!(
                permission,
                P::CustomersCreate
                    | P::CustomersUpdate
                    | P::CustomersAssign
                    | P::CustomersHold
                    | P::CustomersCreditLimit
                    | P::ContactsWrite
                    | P::UsersManage
                    | P::ApiKeysManage
                    | P::InvoicesWrite
                    | P::PaymentsWrite
                    | P::CreditsPost
                    | P::WriteOffsRequest
                    | P::WriteOffsApprove
                    | P::DeductionsResolve
                    | P::GlBalancesWrite
                    | P::TasksWrite
                    | P::ImportsCreate
                    | P::JobsManage
                    | P::ActivitiesWrite
                    | P::NotesWrite
                    | P::PromisesWrite
                    | P::DisputesWrite
                    | P::DisputesResolve
                    | P::PlansWrite
                    | P::PlansApprove
                    | P::SettingsManage
            ),
        }
    }
}

text_enum! {
    /// Who did something: a person, an integration's API key, or the system (the worker).
    pub enum ActorKind {
        User = "user",
        ApiKey = "api_key",
        System = "system",
    }
}

/// Which customers a caller can see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    All,
    /// Only customers whose assigned collector is this user.
    AssignedTo(Uuid),
    /// Only customers whose sales rep is this user.
    SalesRep(Uuid),
}

/// The caller of an operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    User {
        id: Uuid,
        role: Role,
    },
    ApiKey {
        id: Uuid,
        scopes: Vec<Scope>,
    },
    /// The system itself: the worker, start-up bootstrap, demo seeding.
    System,
}

impl Actor {
    pub fn may(&self, permission: Permission) -> bool {
        match self {
            Actor::User { role, .. } => role.allows(permission),
            Actor::ApiKey { scopes, .. } => scopes.iter().any(|s| s.grants(permission)),
            Actor::System => true,
        }
    }

    /// Refuses with 403 when the role (or key scope) lacks the permission. This is
    /// decided before any lookup, so it tells nothing about whether an account exists.
    pub fn require(&self, permission: Permission) -> Result<()> {
        if self.may(permission) {
            return Ok(());
        }
        let code = match self {
            Actor::ApiKey { .. } => ProblemCode::InsufficientScope,
            _ => ProblemCode::Forbidden,
        };
        Err(Error::Forbidden {
            code,
            detail: format!("this action needs the `{permission}` permission"),
        })
    }

    pub fn customer_visibility(&self) -> Visibility {
        match self {
            Actor::User {
                id,
                role: Role::Collector | Role::FieldCollector,
            } => Visibility::AssignedTo(*id),
            Actor::User {
                id,
                role: Role::Sales,
            } => Visibility::SalesRep(*id),
            _ => Visibility::All,
        }
    }

    pub fn kind(&self) -> &'static str {
        self.actor_kind().as_str()
    }

    pub fn actor_kind(&self) -> ActorKind {
        match self {
            Actor::User { .. } => ActorKind::User,
            Actor::ApiKey { .. } => ActorKind::ApiKey,
            Actor::System => ActorKind::System,
        }
    }

    pub fn id(&self) -> Option<Uuid> {
        match self {
            Actor::User { id, .. } | Actor::ApiKey { id, .. } => Some(*id),
            Actor::System => None,
        }
    }
}

impl Visibility {
    /// Whether a customer with these assignees is visible.
    pub fn admits(self, assigned_collector_id: Option<Uuid>, sales_rep_id: Option<Uuid>) -> bool {
        match self {
            Visibility::All => true,
            Visibility::AssignedTo(user) => assigned_collector_id == Some(user),
            Visibility::SalesRep(user) => sales_rep_id == Some(user),
        }
    }
}

/// Everything a mutation needs to know about its circumstances: who, which request, when.
#[derive(Debug, Clone)]
pub struct Context {
    pub actor: Actor,
    pub request_id: Option<String>,
    pub now: DateTime<Utc>,
}

impl Context {
    pub fn new(actor: Actor, request_id: Option<String>, now: DateTime<Utc>) -> Self {
        Self {
            actor,
            request_id,
            now,
        }
    }

    pub fn system(now: DateTime<Utc>) -> Self {
        Self {
            actor: Actor::System,
            request_id: None,
            now,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_admin_manages_users_and_keys() {
        for role in Role::ALL {
            assert_eq!(
                role.allows(Permission::UsersManage),
                *role == Role::Admin,
                "{role}"
            );
            assert_eq!(
                role.allows(Permission::ApiKeysManage),
                *role == Role::Admin,
                "{role}"
            );
        }
    }

    #[test]
    fn every_role_reads_customers_but_only_some_write() {
        let writers = [Role::Admin, Role::Manager, Role::Accountant];
        for role in Role::ALL {
            assert!(role.allows(Permission::CustomersRead));
            assert_eq!(
                role.allows(Permission::CustomersCreate),
                writers.contains(role),
                "{role}"
            );
        }
    }

    #[test]
    fn only_accountants_and_admins_post_money_and_auditors_write_nothing() {
        let money = [
            Permission::PaymentsWrite,
            Permission::InvoicesWrite,
            Permission::CreditsPost,
        ];
        for role in Role::ALL {
            for p in money {
                assert_eq!(
                    role.allows(p),
                    matches!(role, Role::Admin | Role::Accountant),
                    "{role} {p}"
                );
            }
            assert_eq!(
                role.allows(Permission::WriteOffsApprove),
                matches!(role, Role::Admin | Role::Manager),
                "{role}"
            );
        }
        let writes = Permission::ALL.iter().filter(|p| {
            let name = p.as_str();
            !(name.ends_with(":read"))
        });
        for p in writes {
            assert!(!Role::Auditor.allows(*p), "auditor may {p}");
        }
    }

    #[test]
    fn collectors_and_sales_see_only_their_accounts() {
        let me = Uuid::new_v4();
        let other = Uuid::new_v4();
        let collector = Actor::User {
            id: me,
            role: Role::Collector,
        };
        let v = collector.customer_visibility();
        assert!(v.admits(Some(me), None));
        assert!(!v.admits(Some(other), Some(me)));
        let sales = Actor::User {
            id: me,
            role: Role::Sales,
        };
        assert!(sales.customer_visibility().admits(Some(other), Some(me)));
        assert!(!sales.customer_visibility().admits(Some(me), None));
        let manager = Actor::User {
            id: me,
            role: Role::Manager,
        };
        assert!(manager.customer_visibility().admits(None, None));
    }

    #[test]
    fn api_key_scopes_grant_exactly_their_permissions() {
        let reader = Actor::ApiKey {
            id: Uuid::new_v4(),
            scopes: vec![Scope::CustomersRead],
        };
        assert!(reader.may(Permission::CustomersRead));
        assert!(!reader.may(Permission::CustomersCreate));
        assert!(matches!(
            reader.require(Permission::CustomersCreate),
            Err(Error::Forbidden {
                code: ProblemCode::InsufficientScope,
                ..
            })
        ));
        let writer = Actor::ApiKey {
            id: Uuid::new_v4(),
            scopes: vec![Scope::CustomersWrite],
        };
        assert!(writer.may(Permission::CustomersCreate));
        assert!(!writer.may(Permission::AuditRead));
        assert!(!writer.may(Permission::CustomersAssign));
    }
}
