"""Counterparts of ``temporalio.api``'s protobuf messages that user code builds itself.

temporalio exposes Temporal's whole gRPC API as generated protobuf classes. Stalwart has no
gRPC API; what is here is what code written for temporalio builds or parses on its own:
``common.v1.Payload``, which payload codecs create and serialize.
"""
