"""SCIA operator: reconciles scia.io Deployments into plans and Crossplane Infrastructures (docs/operator.md)."""
