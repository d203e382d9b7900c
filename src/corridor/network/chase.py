"""A payment's chase: what a participant does when the answer it waits for does not come.

Exactly-once rests on the transport delivering every message it acknowledged at least once. A transport can break
that promise (nats-server 2.9 lost acknowledged messages when a server of its cluster died: docs/chaos.md, finding
4), and then a payment waits for ever at some hop: the payer's funds reserved, or the payee never credited. So each
participant that waits for another's answer about a payment asks again, the way ISO 20022 provides for it: it sends
its last message about the payment again, alone, with the Business Application Header's PssblDplct set. A receiver
that never got the original processes it as the original; one that did processes nothing twice (every handler is
idempotent per payment) and answers again with what it answered, so a lost answer is sent again too.

Who waits for whom (the roles own the details: transfers/bank.py, rtgs/central_bank.py):
- the payer's bank, its pacs.008 sent, for its central bank's final pacs.002 (ACSC or RJCT);
- the debtor's central bank, coordinating a cross-border payment, for the peer's vote (until its deadline, when it
  aborts as before);
- the creditor's central bank for its bank's vote, then, having voted, for the coordinator's decision;
- the payee's bank, having voted ACSP, for the decision;
- a central bank that settled a domestic payment for the payee's bank's ACCC (its customer credited) or return;
- a central bank that moved a member's settlement account (liquidity, CBDC reserves, a card or netting cycle's leg)
  for the member's ACSC to its pacs.009 (transfers/replies.py, `confirm_institution_transfer`).

Chases come `first` after the message, then twice as far apart each time, at most CHASE_MAX_FACTOR times `first`:
a participant that is down for a while is not flooded when it comes back, and one that stays down is still asked.
"""

from __future__ import annotations

CHASE_MAX_FACTOR = 8
"""The longest wait between two chases, as a multiple of the first (10 s first: 10, 20, 40, 80, 80 ... s)."""


def next_chase_ns(now_ns: int, first_ns: int, chases: int) -> int:
    """When to chase next, `chases` chases having been made already."""
    assert first_ns > 0 and chases >= 0
    return now_ns + first_ns * min(1 << min(chases, 16), CHASE_MAX_FACTOR)
