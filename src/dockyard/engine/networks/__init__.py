"""Container networking. `service.py` the network service (networks' records, create,
inspect, list, remove, prune) with `endpoints.py` mixed in (join at start, leave at exit,
connect/disconnect, restore after a daemon restart, the DNS hooks and name lookups);
`records.py` its tables in the metadata database; `ipam.py` address pools and allocations;
`connecting.py` connect/disconnect; `plumbing.py` bridges, veths, macvlan/ipvlan links and
addresses over netlink (pyroute2); `firewall.py` our
nftables tables (NAT, isolation, published ports); `ports.py` published ports; `proxy.py`
the userland port proxy; `modes.py` HostConfig.NetworkMode.

Still to come: IPv6, --link. The
embedded DNS (`dns.py`, `etc_files.py`) is another part's; it plugs into
`NetworkService.endpoint_hooks`.
"""
