"""SCIA planner service: repository analysis and retrieval-augmented infrastructure plans."""
