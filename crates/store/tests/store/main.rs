//! keyward-store behaviour suite: every behaviour runs on SQLite (a temp file) and on PostgreSQL
//! (`KEYWARD_TEST_POSTGRES_URL`, set by scripts/with-postgres.sh; required unless
//! `KEYWARD_SKIP_POSTGRES=1`).

// An integration test is a crate of its own that sees every dependency of its package.
#![allow(unused_crate_dependencies)]

mod behaviour;
mod child;
mod harness;
mod ledger;
mod ops;
mod plans;
mod sqlite_only;

/// Generates `<tests>::sqlite::<name>` and `<tests>::postgres::<name>` tests for each behaviour
/// function `<name>` of `$module`.
macro_rules! on_both_backends {
    ($tests:ident = $module:ident: $($name:ident),* $(,)?) => {
        mod $tests {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = crate::harness::TestDb::sqlite().await;
                    crate::$module::$name(&db).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(db) = crate::harness::TestDb::postgres().await else { return };
                    crate::$module::$name(&db).await;
                    db.cleanup().await;
                }
            )*
        }
        }
    };
}

on_both_backends!(behaviours = behaviour:
    insert_and_get,
    idempotent_insert,
    replacement_fee_bump,
    sender_cap,
    concurrent_inserts_respect_cap,
    status_transitions,
    ordering,
    reorg_resets,
    clear_and_counts,
    bundles,
    durable_across_reopen,
    survives_sigkill,
    api_keys,
    claims,
    role_leases_and_fences,
    fenced_writes_race_a_takeover,
    mined_bundle_in_one_commit,
    admission_in_one_commit,
    concurrent_admissions_count_entities_without_deadlock,
);

on_both_backends!(ledger_totals = ledger:
    totals_add_up_exactly_across_gwei_boundaries,
    a_large_round_settles_in_several_statements,
    a_limit_admits_exactly_up_to_it,
    prepared_row_and_reservation_are_one_write,
    migration_0015_converts_hex_totals,
);
