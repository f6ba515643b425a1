"""The local stack: every SCIA service as its own process on loopback, as in a cluster."""
