"""IO adapters around the pure protocol core: the MQTT transport and its durable store."""
