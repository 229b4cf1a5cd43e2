"""The router fleet: routers, the MQTT contract, commands and their acks."""
