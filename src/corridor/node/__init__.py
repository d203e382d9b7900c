"""Nodes: one participant's runtime (runtime.py), the embedded network of all of them in one process (network.py),
and one node as its own process on NATS (config.py, service.py, rpc.py, launcher.py)."""
