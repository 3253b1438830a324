"""Container networking. Today: the built-in network modes (`modes.py`: none, host, and the
default, which gives a namespace with loopback only), the /etc files (`etc_files.py`) and
the embedded resolver (`dns.py`, its name table `dnsnames.py`), which waits for networks.

Where the rest goes (issue: bridge networks, ports, DNS): `service.py` the network service
(create/inspect/list/remove/prune/connect/disconnect, its records in the metadata store),
`ipam.py` address pools and allocations, `drivers/` one module per driver (bridge, host,
null, macvlan, ipvlan), `plumbing.py` links, veths and addresses over netlink (pyroute2),
`firewall.py` our nftables tables (NAT, isolation, published ports), `proxy.py` the userland
port proxy, `dns.py` the embedded resolver at 127.0.0.11, `etc_files.py` /etc/hosts and
resolv.conf as Docker writes them.
"""
