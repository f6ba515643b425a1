"""SCIA's gRPC contracts, version 1. The *_pb2* modules are generated: run `make protos`."""
