"""Transports: one interface (base.Transport), in-process and NATS JetStream implementations."""

from corridor.network.transport.base import Delivery, Handler, Transport, TransportError
from corridor.network.transport.memory import MemoryTransport

__all__ = ["Delivery", "Handler", "MemoryTransport", "Transport", "TransportError"]
