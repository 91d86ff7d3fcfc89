"""The ``bitcoincontroller.dev`` API group (Go: ``apis/bitcoincontroller``)."""

from .register import GROUP_NAME

__all__ = ["GROUP_NAME"]
