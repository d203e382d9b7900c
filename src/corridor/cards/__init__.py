"""The card scheme: cards issued in one country, accepted by merchants in the other, settled in local currencies.

Issuing (PANs, card security), the scheme's ISO 8583 codec and its TCP framing; the switch, acquirer and issuer
processors build on these. See docs/cards.md.
"""
