"""Counterparts of ``temporalio.api``'s protobuf messages that user code builds itself.

temporalio exposes Temporal's whole gRPC API as generated protobuf classes. Stalwart has no
gRPC API; what is here is what code written for temporalio builds or parses on its own:
``common.v1.Payload``, which payload codecs create and serialize; ``enums.v1``, the enums
events and failures are compared with; ``history.v1.HistoryEvent``, what a fetched history
holds.
"""
