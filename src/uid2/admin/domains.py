"""Registrable ("root-level") domains, from the Public Suffix List.

The operator accepts a client-side token request when the ``Origin`` host reduces to one of the
site's domain names (operator.md §7.3: Guava's ``topPrivateDomain``, which includes the list's
private entries such as ``github.io``), and the portal and CLI only store names in that reduced
form. ``publicsuffixlist`` ships the list, so nothing is fetched at run time.
"""

from __future__ import annotations

import functools
import ipaddress

from publicsuffixlist import PublicSuffixList

LOCALHOST = "localhost"


@functools.cache
def _suffix_list() -> PublicSuffixList:
    return PublicSuffixList()  # parses the bundled list once per process


def registrable_domain(host: str) -> str | None:
    """``a.b.example.co.uk`` -> ``example.co.uk``; ``*.localhost`` -> ``localhost``; else None.

    None for IP addresses, public suffixes themselves (``co.uk``) and empty names.
    """
    name = host.strip().lower().rstrip(".")
    if name == LOCALHOST or name.endswith("." + LOCALHOST):
        return LOCALHOST
    if not name or _is_ip_address(name):
        return None
    result: str | None = _suffix_list().privatesuffix(name)
    return result


def _is_ip_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True
