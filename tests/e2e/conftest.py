"""The e2e tests reuse the router-agent fixtures: the real agent under busybox."""

from tests.firmware.conftest import agent_factory, broker, busybox_bin, busybox_env

__all__ = ["agent_factory", "broker", "busybox_bin", "busybox_env"]
