"""FX: signed quotes locked to a payment, priced exactly from the scenario's mid rates and spread."""

from corridor.fx.quotes import Quote, QuoteError, make_quote, mid_rate, price

__all__ = ["Quote", "QuoteError", "make_quote", "mid_rate", "price"]
