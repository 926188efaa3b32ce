"""Who may talk to the server: loopback always; other machines only when allow-listed."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# "This machine" on an open bind: the loopback addresses clients actually send from.
_LOOPBACK: tuple[IPNetwork, ...] = (ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("::1/128"))


def parse_network(text: str) -> IPNetwork:
    """An address ("192.168.1.20") or a network ("192.168.1.0/24"); no DNS lookups."""
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise ValueError(
            f"allow: {text!r} is not an IP address or network (e.g. 192.168.1.20 or 192.168.1.0/24)"
        ) from None


def resolve_bind_host(host: str) -> str:
    host = host.strip()
    if host == "localhost":
        return "127.0.0.1"
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        raise ValueError(
            f"bind: {host!r} is not an IP address; use 127.0.0.1 (this machine only), "
            "an interface address, or 0.0.0.0 (all interfaces)"
        ) from None


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class AccessList:
    """Decides per datagram whether the sender is allowed; decisions are cached (bounded)."""

    def __init__(self, bind_host: str, allow: Iterable[str] = ()):
        self.bind_host = bind_host
        self.explicit: tuple[IPNetwork, ...] = tuple(parse_network(a) for a in allow)
        self.open_to_all = is_loopback(bind_host)  # only this machine can reach a loopback socket
        if not self.open_to_all and not self.explicit:
            raise ValueError(
                f"bind: listening on {bind_host} lets other machines reach diffhost; "
                "name the clients allowed to send with --allow ADDR (an address like 192.168.1.20 "
                "or a network like 192.168.1.0/24); everyone else is ignored"
            )
        self._networks = _LOOPBACK + self.explicit
        self._cache: dict[str, bool] = {}

    def allows(self, host: str) -> bool:
        if self.open_to_all:
            return True
        hit = self._cache.get(host)
        if hit is None:
            hit = self._match(host, self._networks)
            if len(self._cache) > 4096:  # spoofed-source floods must not grow memory
                self._cache.clear()
            self._cache[host] = hit
        return hit

    def may_subscribe(self, host: str, sender_host: str) -> bool:
        """A listener must be the sender itself, this machine, or explicitly allowed:
        otherwise a client could aim our replies at a third party."""
        if host == sender_host:
            return True
        return self._match(host, _LOOPBACK + self.explicit)

    def listener_host(self, host: str) -> str:
        """A listener host as the socket can reach it: an IP literal of the socket's family
        ("localhost" is this machine's loopback). No DNS lookups on the server thread."""
        ipv6 = ":" in self.bind_host
        family = "IPv6" if ipv6 else "IPv4"
        if host == "localhost":
            return "::1" if ipv6 else "127.0.0.1"
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            raise ValueError(
                f"host: {host!r} is not an IP address; give an {family} address such as "
                f"{'::1' if ipv6 else '127.0.0.1'} (no names are looked up)"
            ) from None
        if (ip.version == 6) != ipv6:
            raise ValueError(
                f"host: {host!r} is an IPv{ip.version} address, but diffhost listens on {family} "
                f"({self.bind_host}) and cannot send to it; give an {family} address, or start "
                f"diffhost with --bind {'127.0.0.1' if ipv6 else '::1'}"
            )
        return str(ip)

    @staticmethod
    def _match(host: str, networks: tuple[IPNetwork, ...]) -> bool:
        try:
            ip = ipaddress.ip_address(host.split("%")[0])
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip.version == n.version and ip in n for n in networks)
