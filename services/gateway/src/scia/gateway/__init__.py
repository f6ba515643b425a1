"""SCIA's GraphQL gateway."""
