-- Pending transfers keyed by their own timestamp rather than by id. Ids are usually random (derived from hashes), so
-- a table keyed by them took every new pending transfer, and every post or void of one, on a random page: a 4 KiB
-- WAL frame each, a third of a busy ledger's writes. Keyed by timestamp, new ones append, and the ones resolved soon
-- after (most of them) sit on the table's last pages. A lookup by id goes through the transfers' id index, which
-- every pending transfer is in already.
CREATE TABLE pending_transfers_v2 (
    timestamp INTEGER PRIMARY KEY,      -- the pending transfer's own timestamp (its row in transfers)
    id BLOB NOT NULL,
    status INTEGER NOT NULL,            -- 1 pending, 2 posted, 3 voided, 4 expired
    expires_at INTEGER,                 -- NULL: no timeout
    resolved_at INTEGER                 -- timestamp of the post, void or expiry
);
INSERT INTO pending_transfers_v2 (timestamp, id, status, expires_at, resolved_at)
    SELECT timestamp, id, status, expires_at, resolved_at FROM pending_transfers ORDER BY timestamp;
DROP TABLE pending_transfers;
ALTER TABLE pending_transfers_v2 RENAME TO pending_transfers;
CREATE INDEX pending_transfers_open ON pending_transfers (timestamp) WHERE status = 1;
CREATE INDEX pending_transfers_expired ON pending_transfers (resolved_at) WHERE status = 4;
