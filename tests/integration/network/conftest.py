"""Fixtures for network integration tests: a NetworkManager on a private store whose default bridge
and subnets are unique to the test, torn down (and checked) even when the test fails."""
from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import pytest
from net_helpers import NetEnv, free_subnets, tagged_leftovers

from berth.network import NetworkConfig, NetworkManager, firewall, netlink, records
from berth.store import Store


@pytest.fixture
def net_env(berth_env) -> Iterator[NetEnv]:
    if os.geteuid() != 0:
        pytest.skip("network integration tests need root")
    suffix = secrets.token_hex(3)
    bip = free_subnets(1)[0].replace(".0/24", ".1/24")
    config = NetworkConfig.from_dict({"bridge": f"bt{suffix}0", "bip": bip})
    store = Store()
    manager = NetworkManager(store, config)
    env = NetEnv(store, manager, suffix)
    try:
        yield env
    finally:
        for proc in env.processes:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        tags = records.known_tags(store.db) | records.live_tags(store.db)
        try:
            manager.remove_all()
        finally:
            # whatever remove_all missed (it is under test too) goes, then the test fails
            leftovers = tagged_leftovers(tags)
            if leftovers:
                firewall.remove(tags)
                for link in netlink.tagged_links():
                    if link.tag in tags:
                        netlink.delete_link(link.name)
            store.close()
        assert not leftovers, f"network state leaked: {leftovers}"
