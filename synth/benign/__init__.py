"""Benign confounder groups, one module per group. Each module's ``build(pop, q)`` adds
``q`` accounts of its group to the population."""

from collections.abc import Callable

from ..population import BENIGN_GROUPS, Population
from . import (
    company,
    developer,
    household,
    mobile,
    proxy_customer,
    solo,
    university,
    viral,
    vpn,
)

BUILDERS: dict[str, Callable[[Population, int], None]] = {
    "solo": solo.build,
    "household": household.build,
    "company": company.build,
    "university": university.build,
    "mobile": mobile.build,
    "vpn": vpn.build,
    "developer": developer.build,
    "viral": viral.build,
    "proxy_customer": proxy_customer.build,
}
if tuple(BUILDERS) != BENIGN_GROUPS:
    raise RuntimeError(f"benign builders {tuple(BUILDERS)} are not BENIGN_GROUPS {BENIGN_GROUPS}")

__all__ = ["BUILDERS"]
