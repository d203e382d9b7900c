"""The trade parties the API tests onboard (as the request bodies of POST /v1/parties), named once for both the
embedded and the distributed tests. Illustrative: every name and number is made up."""

from __future__ import annotations

from typing import Any

VOLGA = "RU0440701810000000011"
CARACAS = "VE0102010000000000031"
IRINA = "RU0440701810000000013"
MARACAIBO = "VE0134020000000000043"

VOLGA_TRUCK_PARTS: dict[str, Any] = {
    "id": "volga-truck-parts", "name": "Volga Truck Parts", "role": "exporter", "country": "RU", "account": VOLGA,
    "registration_number": "1027700132195", "tax_id": "7707083893", "address": "ul. Zavodskaya 12, Samara",
    "email": "sales@volga.example", "kyc_tier": 2,
}  # fmt: skip
CARACAS_TRANSPORTES: dict[str, Any] = {
    "id": "caracas-transportes", "name": "Caracas Transportes", "role": "importer", "country": "VE",
    "account": CARACAS, "registration_number": "J-30012345-6", "tax_id": "J300123456",
    "address": "Av. Urdaneta 45, Caracas", "email": "compras@caracas.example", "kyc_tier": 2,
}  # fmt: skip
MARACAIBO_WEB_SHOP: dict[str, Any] = {
    "id": "maracaibo-repuestos", "name": "Maracaibo Repuestos", "role": "exporter", "country": "VE",
    "account": MARACAIBO, "registration_number": "J-40000001-0", "tax_id": "J400000010",
    "address": "Av. 5 de Julio, Maracaibo", "email": "ventas@maracaibo.example", "kyc_tier": 2,
}  # fmt: skip
IRINA_BUYER: dict[str, Any] = {
    "id": "irina-petrova", "name": "Irina Petrova", "role": "importer", "country": "RU", "account": IRINA,
    "registration_number": "IP-7700001", "tax_id": "770000000001", "address": "Moscow",
    "email": "irina@petrova.example", "kyc_tier": 1,
}  # fmt: skip


def card_contract(contract: str) -> dict[str, Any]:
    """Irina buys spare parts at the Maracaibo web shop, in VES."""
    return {"id": contract, "importer": "irina-petrova", "exporter": "maracaibo-repuestos", "currency": "VES",
            "incoterm": "DAP", "place": "Moscow", "description": "spare parts from the web shop",
            "signed_on": "2026-01-15"}  # fmt: skip


def card_invoice(number: str, contract: str) -> dict[str, Any]:
    """Two sets of brake pads: 1 500.00 VES."""
    pads = {"description": "brake pads", "quantity": 2, "unit": "set", "unit_price_minor": 750_00}
    return {"number": number, "contract": contract, "issued_on": "2026-02-01", "due_on": "2027-03-31",
            "lines": [pads]}  # fmt: skip
