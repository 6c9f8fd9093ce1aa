//! One module per resource. Handlers are thin: parse, authenticate, call `recoup_core`,
//! map errors. `v1` mounts them under `/v1`; `root` has the unversioned system routes.

use utoipa_actix_web::service_config::ServiceConfig;

pub mod activities;
pub mod aging;
pub mod api_keys;
pub mod audit_events;
pub mod auth;
pub mod collector_activity;
pub mod credits;
pub mod customers;
pub mod deductions;
pub mod disputes;
pub mod gl_balances;
pub mod hit_list;
pub mod imports;
pub mod invoices;
pub mod metrics;
pub mod payment_plans;
pub mod payments;
pub mod promises;
pub mod system;
pub mod tasks;
pub mod users;
pub mod worklist;
pub mod write_offs;

/// A cursor-paginated list body: `{"data": [...], "next_cursor": "…" | null}`.
macro_rules! list_of {
    ($name:ident, $item:ty) => {
        #[derive(Debug, serde::Serialize, utoipa::ToSchema)]
        pub struct $name {
            pub data: Vec<$item>,
            /// Pass as `cursor` to get the next page; `null` on the last page.
            #[schema(required = true)]
            pub next_cursor: Option<String>,
        }

        impl From<recoup_core::page::Page<$item>> for $name {
            fn from(page: recoup_core::page::Page<$item>) -> Self {
                Self {
                    data: page.data,
                    next_cursor: page.next_cursor,
                }
            }
        }
    };
}
pub(crate) use list_of;

pub fn v1(cfg: &mut ServiceConfig) {
    cfg.service(auth::login)
        .service(auth::refresh)
        .service(auth::logout)
        .service(auth::me)
        .service(users::list)
        .service(users::create)
        .service(users::get)
        .service(users::update)
        .service(api_keys::list)
        .service(api_keys::create)
        .service(api_keys::revoke)
        .service(customers::list)
        .service(customers::create)
        .service(customers::get)
        .service(customers::update)
        .service(customers::assign)
        .service(customers::list_holds)
        .service(customers::place_hold)
        .service(customers::release_hold)
        .service(customers::list_contacts)
        .service(customers::create_contact)
        .service(customers::get_statement)
        .service(customers::upsert)
        .service(invoices::list)
        .service(invoices::create)
        .service(invoices::upsert)
        .service(invoices::get)
        .service(invoices::ledger)
        .service(invoices::void)
        .service(payments::create)
        .service(payments::list)
        .service(payments::upsert)
        .service(payments::get)
        .service(payments::apply)
        .service(payments::return_payment)
        .service(payments::refund)
        .service(credits::credit_memo)
        .service(credits::adjustment)
        .service(deductions::list)
        .service(deductions::resolve)
        .service(write_offs::list)
        .service(write_offs::create)
        .service(write_offs::approve)
        .service(write_offs::recover)
        .service(gl_balances::list)
        .service(gl_balances::create)
        .service(gl_balances::reconciliation)
        .service(collector_activity::report)
        .service(hit_list::report)
        .service(aging::report)
        .service(aging::trend)
        .service(metrics::report)
        .service(imports::create)
        .service(imports::list)
        .service(imports::get)
        .service(imports::retry)
        .service(activities::list)
        .service(activities::create)
        .service(activities::get)
        .service(tasks::list)
        .service(tasks::create)
        .service(tasks::get)
        .service(tasks::update)
        .service(worklist::weights)
        .service(worklist::save_weights)
        .service(worklist::list)
        .service(payment_plans::preview)
        .service(payment_plans::policy)
        .service(payment_plans::save_policy)
        .service(payment_plans::list)
        .service(payment_plans::create)
        .service(payment_plans::get)
        .service(payment_plans::approve)
        .service(payment_plans::cancel)
        .service(promises::list)
        .service(promises::create)
        .service(promises::get)
        .service(promises::cancel)
        .service(disputes::list)
        .service(disputes::create)
        .service(disputes::get)
        .service(disputes::update)
        .service(disputes::resolve)
        .service(audit_events::list);
}

pub fn root(cfg: &mut ServiceConfig) {
    cfg.service(system::healthz)
        .service(system::readyz)
        .service(system::metrics);
}
