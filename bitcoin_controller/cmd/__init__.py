"""The ``bitcoin-controller`` command (``cmd/controller/main.go`` in the Go original)."""
