"""Container networking. `service.py` the network service (networks' records, create,
inspect, list, remove, prune) with two mixins: `endpoints.py` (join at start, leave at exit,
restore after a daemon restart, published ports, the DNS hooks and name lookups) and
`connecting.py` (connect/disconnect, rename). `records.py` its tables in the metadata
database; `ipam.py` address pools and allocations; `plumbing.py` bridges, veths and
macvlan/ipvlan links over netlink (pyroute2); `firewall.py` our nftables tables (NAT,
isolation, published ports); `ports.py` published ports; `proxy.py` the userland port
proxy; `modes.py` HostConfig.NetworkMode.

Still to come: IPv6, --link. The embedded DNS (`dns.py`, `etc_files.py`) is another part's;
it plugs into `NetworkService.endpoint_hooks`.
"""
