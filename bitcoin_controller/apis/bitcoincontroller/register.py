"""The API group's name, shared by all of its versions (Go: ``register.go``).

A domain we control keeps the group from colliding with anyone else's
``BitcoinNetwork`` (the Go original used ``...christianb93.github.com``).
"""

GROUP_NAME = "bitcoincontroller.dev"

__all__ = ["GROUP_NAME"]
