"""The BitcoinNetwork controller (sample-controller's ``controller.go``, for bitcoin networks)."""

from .controller import CONTROLLER_NAME, POLL_INTERVAL, Controller, RPCConnector, SyncError

__all__ = ["CONTROLLER_NAME", "POLL_INTERVAL", "Controller", "RPCConnector", "SyncError"]
