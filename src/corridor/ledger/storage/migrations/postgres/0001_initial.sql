-- Corridor ledger schema, version 1 (PostgreSQL). Ids are 16-byte big-endian blobs; amounts are 64-bit integers.
-- Every stored event has a unique timestamp (ns): it is the transfers' primary key, so inserts append.
CREATE TABLE accounts (
    id BYTEA PRIMARY KEY,
    ledger BIGINT NOT NULL,
    code BIGINT NOT NULL,
    flags BIGINT NOT NULL,             -- as created
    closed BIGINT NOT NULL,            -- current state: closing transfers set it, their void or expiry clears it
    user_data_128 BYTEA NOT NULL,
    user_data_64 BIGINT NOT NULL,      -- u64 stored as two's complement i64
    user_data_32 BIGINT NOT NULL,
    debits_pending BIGINT NOT NULL,
    debits_posted BIGINT NOT NULL,
    credits_pending BIGINT NOT NULL,
    credits_posted BIGINT NOT NULL,
    timestamp BIGINT NOT NULL UNIQUE,
    last_transfer_ts BIGINT NOT NULL   -- head of the account's history chain (0: no transfer yet)
);

CREATE TABLE transfers (
    timestamp BIGINT PRIMARY KEY,
    id BYTEA NOT NULL UNIQUE,
    debit_account_id BYTEA NOT NULL,
    credit_account_id BYTEA NOT NULL,
    amount BIGINT NOT NULL,
    pending_id BYTEA,                   -- NULL: 0 (most transfers resolve no pending transfer)
    user_data_128 BYTEA,                -- NULL: 0
    user_data_64 BIGINT NOT NULL,
    user_data_32 BIGINT NOT NULL,
    timeout BIGINT NOT NULL,
    ledger BIGINT NOT NULL,
    code BIGINT NOT NULL,
    flags BIGINT NOT NULL,
    prev_debit_ts BIGINT NOT NULL,     -- previous transfer of the debit account (0: none)
    prev_credit_ts BIGINT NOT NULL     -- previous transfer of the credit account (0: none)
);

CREATE TABLE pending_transfers (
    id BYTEA PRIMARY KEY,
    timestamp BIGINT NOT NULL,         -- the pending transfer's own timestamp
    status BIGINT NOT NULL,            -- 1 pending, 2 posted, 3 voided, 4 expired
    expires_at BIGINT,                 -- NULL: no timeout
    resolved_at BIGINT                 -- timestamp of the post, void or expiry
);
CREATE INDEX pending_transfers_open ON pending_transfers (timestamp) WHERE status = 1;
CREATE INDEX pending_transfers_expired ON pending_transfers (resolved_at) WHERE status = 4;

CREATE TABLE account_balances (
    account_id BYTEA NOT NULL,
    timestamp BIGINT NOT NULL,
    debits_pending BIGINT NOT NULL,
    debits_posted BIGINT NOT NULL,
    credits_pending BIGINT NOT NULL,
    credits_posted BIGINT NOT NULL,
    PRIMARY KEY (account_id, timestamp)
);

CREATE TABLE journal (
    seq BIGINT PRIMARY KEY,
    first_ts BIGINT NOT NULL,
    last_ts BIGINT NOT NULL,
    count BIGINT NOT NULL,
    digest BYTEA NOT NULL,
    prev_hash BYTEA NOT NULL,
    hash BYTEA NOT NULL
);
