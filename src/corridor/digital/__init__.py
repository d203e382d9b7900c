"""The digital currency platform (issue 5): a central bank's two-tier platform for a CBDC, a commodity-backed token
and stablecoins; wallets held by their owners as Ed25519 keys; blocks with Merkle proofs anyone can check offline;
proofs of reserve; hash-time-locked transfers for payment-versus-payment; programmable escrow.

A rail beside cards/ and transfers/: it builds on the ledger (balances live there), money.py (tokens with their own
precision), merkle.py (RFC 9162 trees) and network/identity.py (Ed25519 keys), and nothing above it.
"""
