"""Child process of the crash test: commits batches from several threads until it is killed.

Usage: python -m tests.ledger.crash_child URL SCHEMA|- ROUND [inline]
Each batch of round R, client C, number K holds BATCH transfers with ids R*10**9 + C*10**6 + K*1000 + i. Every
other batch is one linked chain. A line "acked R C K" is printed (and flushed) only after the batch's results came
back, i.e. after its group committed. On start it first resubmits the last batches of the previous round, which
must answer ok or exists, never anything else. With `inline`, half the clients apply their batches inline
(Ledger.apply_transfers) and print "acked" only after a flush, as a node's event loop does.
"""

from __future__ import annotations

import sys
import threading

from corridor.ledger import Account, CreateTransferResult, Ledger, Transfer, TransferFlags

ACCOUNTS = 20
BATCH = 40
CLIENTS = 4


def batch_ids(round_: int, client: int, k: int) -> range:
    base = round_ * 10**9 + client * 10**6 + k * 1000
    return range(base + 1, base + BATCH + 1)


def make_batch(round_: int, client: int, k: int) -> list[Transfer]:
    chained = k % 2 == 0
    batch = []
    for n, tid in enumerate(batch_ids(round_, client, k)):
        debit = 1 + (tid * 7 + n) % ACCOUNTS
        credit = 1 + (debit % ACCOUNTS)
        linked = TransferFlags.LINKED if chained and n < BATCH - 1 else TransferFlags.NONE
        pending = TransferFlags.PENDING if n % 5 == 0 else TransferFlags.NONE
        batch.append(
            Transfer(
                id=tid,
                debit_account_id=debit,
                credit_account_id=credit,
                amount=1 + n,
                ledger=643,
                code=1,
                flags=linked | pending,
            )
        )
    return batch


def main() -> None:
    url, schema, round_ = sys.argv[1], sys.argv[2], int(sys.argv[3])
    inline = sys.argv[4:] == ["inline"]
    ledger = Ledger.open(url, schema=None if schema == "-" else schema)
    ledger.create_accounts([Account(id=i, ledger=643, code=1) for i in range(1, ACCOUNTS + 1)])
    if round_ > 0:
        for client in range(CLIENTS):
            for k in range(3):
                results = ledger.create_transfers(make_batch(round_ - 1, client, k))
                ok = {CreateTransferResult.ok, CreateTransferResult.exists}
                assert set(results) <= ok, f"resubmission gave {set(results)}"
    print("ready", flush=True)
    lock = threading.Lock()

    def client(c: int) -> None:
        k = 0
        while True:
            if inline and c % 2:
                results = ledger.apply_transfers(make_batch(round_, c, k))
                ledger.flush()
            else:
                results = ledger.create_transfers(make_batch(round_, c, k))
            assert set(results) == {CreateTransferResult.ok}, set(results)
            with lock:
                print(f"acked {round_} {c} {k}", flush=True)
            k += 1

    threads = [threading.Thread(target=client, args=(c,), daemon=True) for c in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


if __name__ == "__main__":
    main()
