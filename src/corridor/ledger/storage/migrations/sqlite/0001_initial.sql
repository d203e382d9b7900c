-- Corridor ledger schema, version 1 (SQLite). Ids are 16-byte big-endian blobs; amounts are 64-bit integers.
-- Every stored event has a unique timestamp (ns): it is the transfers' primary key, so inserts append.
CREATE TABLE accounts (
    id BLOB PRIMARY KEY,
    ledger INTEGER NOT NULL,
    code INTEGER NOT NULL,
    flags INTEGER NOT NULL,             -- as created
    closed INTEGER NOT NULL,            -- current state: closing transfers set it, their void or expiry clears it
    user_data_128 BLOB NOT NULL,
    user_data_64 INTEGER NOT NULL,      -- u64 stored as two's complement i64
    user_data_32 INTEGER NOT NULL,
    debits_pending INTEGER NOT NULL,
    debits_posted INTEGER NOT NULL,
    credits_pending INTEGER NOT NULL,
    credits_posted INTEGER NOT NULL,
    timestamp INTEGER NOT NULL UNIQUE,
    last_transfer_ts INTEGER NOT NULL   -- head of the account's history chain (0: no transfer yet)
) WITHOUT ROWID;

CREATE TABLE transfers (
    timestamp INTEGER PRIMARY KEY,
    id BLOB NOT NULL UNIQUE,
    debit_account_id BLOB NOT NULL,
    credit_account_id BLOB NOT NULL,
    amount INTEGER NOT NULL,
    pending_id BLOB,                    -- NULL: 0 (most transfers resolve no pending transfer)
    user_data_128 BLOB,                 -- NULL: 0
    user_data_64 INTEGER NOT NULL,
    user_data_32 INTEGER NOT NULL,
    timeout INTEGER NOT NULL,
    ledger INTEGER NOT NULL,
    code INTEGER NOT NULL,
    flags INTEGER NOT NULL,
    prev_debit_ts INTEGER NOT NULL,     -- previous transfer of the debit account (0: none)
    prev_credit_ts INTEGER NOT NULL     -- previous transfer of the credit account (0: none)
);

CREATE TABLE pending_transfers (
    id BLOB PRIMARY KEY,
    timestamp INTEGER NOT NULL,         -- the pending transfer's own timestamp
    status INTEGER NOT NULL,            -- 1 pending, 2 posted, 3 voided, 4 expired
    expires_at INTEGER,                 -- NULL: no timeout
    resolved_at INTEGER                 -- timestamp of the post, void or expiry
) WITHOUT ROWID;
CREATE INDEX pending_transfers_open ON pending_transfers (timestamp) WHERE status = 1;
CREATE INDEX pending_transfers_expired ON pending_transfers (resolved_at) WHERE status = 4;

CREATE TABLE account_balances (
    account_id BLOB NOT NULL,
    timestamp INTEGER NOT NULL,
    debits_pending INTEGER NOT NULL,
    debits_posted INTEGER NOT NULL,
    credits_pending INTEGER NOT NULL,
    credits_posted INTEGER NOT NULL,
    PRIMARY KEY (account_id, timestamp)
) WITHOUT ROWID;

CREATE TABLE journal (
    seq INTEGER PRIMARY KEY,
    first_ts INTEGER NOT NULL,
    last_ts INTEGER NOT NULL,
    count INTEGER NOT NULL,
    digest BLOB NOT NULL,
    prev_hash BLOB NOT NULL,
    hash BLOB NOT NULL
);
