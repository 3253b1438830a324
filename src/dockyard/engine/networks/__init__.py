"""Container networking. `service.py` the network service (networks' records, create,
inspect, list, remove, prune) with two mixins: `endpoints.py` (join at start, leave at exit,
restore after a daemon restart, published ports, the DNS hooks) and `connecting.py`
(connect/disconnect, rename, the name lookups). `records.py` its tables in the metadata
database; `ipam.py` address pools and allocations; `plumbing.py` bridges, veths and
macvlan/ipvlan links over netlink (pyroute2); `firewall.py` our nftables tables (NAT,
isolation, published ports); `ports.py` published ports; `proxy.py` the userland port
proxy; `links.py` legacy --link; `dnshook.py` the embedded DNS as an endpoint hook;
`modes.py` HostConfig.NetworkMode.

Still to come: IPv6 published ports. The embedded DNS (`dns.py`, `dnsnames.py`) and the /etc files
(`etc_files.py`) are another part's; `dnshook.py` plugs them into
`NetworkService.endpoint_hooks`.
"""
