"""The shared kernel: settings, database, MQTT, web shell. Imports no domain package."""
