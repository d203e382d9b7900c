"""`corridor chaos`: the distributed network under random process kills, with an exact account of every payment.

One module per job: `cluster.py` (a three-server NATS JetStream cluster of the run's own), `network.py` (the network
laid out and started over PostgreSQL and that cluster, and cleaned up after), `traffic.py` (mixed payments, each
retried under its own idempotency key), `faults.py` (the seeded schedule of SIGKILLs and restarts), `outcome.py`
(what every ledger and record says happened to every payment) and `run.py` (all of it, within a time bound).
"""
