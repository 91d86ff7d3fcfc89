"""bitcoin-controller: a Kubernetes operator for Bitcoin regtest networks.

The controller machinery under :mod:`bitcoin_controller.clientgo` is a
hand-written Python mirror of Go's client-go, laid out package by package so
that it doubles as a teaching reference for how Kubernetes controllers work.
"""

__version__ = "0.1.0"
