"""What an institution screens against and which AML rules it applies: the scenario's `[compliance]` section, read
(scenario/compliance.py) into one record every rail's desk is built from."""

from __future__ import annotations

from dataclasses import dataclass, field

from corridor.compliance.rules import AmlPolicy
from corridor.compliance.screening import ScreeningPolicy
from corridor.compliance.watchlist import WatchList


@dataclass(frozen=True, slots=True)
class CompliancePolicy:
    watchlists: tuple[WatchList, ...] = ()
    screening: ScreeningPolicy = field(default_factory=ScreeningPolicy)
    aml: AmlPolicy = field(default_factory=AmlPolicy)
    review_poll_s: int = 5
    """How often a held payment looks at its case: a decision is acted on at once when it is taken through the
    node, and within this long after a restart that came between the decision and the payment's next step."""

    @property
    def digest(self) -> str:
        """Which lists screened: their names and file digests, as the audit trail records at start."""
        return ",".join(f"{w.name}:{w.digest[:16]}" for w in self.watchlists)
