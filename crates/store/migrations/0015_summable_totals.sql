-- The sponsorship totals become amounts SQL can add (issue 16: a sponsored call at the cost of an
-- unsponsored one). Each wei amount is two BIGINTs, whole gwei and the wei below a gwei
-- (`crates/store/src/amounts.rs`), so a reservation, a settlement or a release moves the totals by
-- one statement, which also checks the limits in its WHERE, with no read of the rows first. The
-- totals only ever grow: `held` counts every reservation taken, `freed` every reservation since
-- settled or released; what is reserved now is held − freed, and "within the limit" is
-- `spent + held + cost ≤ limit + freed`, additions only. A policy's totals and its senders' share
-- one table (the policy's own row has the sender ''), so one multi-row upsert moves both.
--
-- The old totals are 0x-hex text, which has no portable SQL conversion: this moves them aside
-- (`*_0014`) and the store converts them when it opens (`crates/store/src/upgrade.rs`; `spent`
-- as it was, `held` = the old `reserved`, `freed` = 0), then drops them and the row below.

INSERT INTO store_upgrades (name) VALUES ('0015_summable_totals');

ALTER TABLE sponsorship_totals RENAME TO sponsorship_totals_0014;
ALTER TABLE sponsorship_sender_totals RENAME TO sponsorship_sender_totals_0014;

CREATE TABLE sponsorship_totals_v15 (
    policy_id   TEXT   NOT NULL,
    sender      TEXT   NOT NULL,                      -- 0x-hex address, or '' for the whole policy
    spent_gwei  BIGINT NOT NULL,
    spent_wei   BIGINT NOT NULL,
    held_gwei   BIGINT NOT NULL,
    held_wei    BIGINT NOT NULL,
    freed_gwei  BIGINT NOT NULL,
    freed_wei   BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (policy_id, sender),
    CHECK (spent_wei >= 0 AND spent_wei < 1000000000 AND held_wei >= 0 AND held_wei < 1000000000
           AND freed_wei >= 0 AND freed_wei < 1000000000)
);
ALTER TABLE sponsorship_totals_v15 RENAME TO sponsorship_totals;
