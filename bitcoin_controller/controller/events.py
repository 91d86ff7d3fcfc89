"""Event reasons the controller records (CamelCase, as Kubernetes components do)."""

NORMAL = "Normal"
WARNING = "Warning"

# Normal
SERVICE_CREATED = "ServiceCreated"
SERVICE_UPDATED = "ServiceUpdated"
STATEFULSET_CREATED = "StatefulSetCreated"
STATEFULSET_UPDATED = "StatefulSetUpdated"
TLS_SECRET_CREATED = "TLSSecretCreated"
CONFIG_SECRET_CREATED = "ConfigSecretCreated"
SCALED = "Scaled"
PEERS_ADDED = "PeersAdded"
PEERS_REMOVED = "PeersRemoved"
SYNCED = "Synced"

# Warning
ERR_RESOURCE_EXISTS = "ErrResourceExists"
SECRET_NOT_FOUND = "SecretNotFound"
SECRET_INVALID = "SecretInvalid"
SECRET_FORBIDDEN = "SecretForbidden"
TLS_SECRET_UNKNOWN = "TLSSecretUnknown"
RPC_ERROR = "RPCError"
INVALID_SPEC = "InvalidSpec"

MESSAGE_SYNCED = "BitcoinNetwork synced successfully: all nodes ready, connected and on the same block"
