"""A small mirror of ``k8s.io/apimachinery``: API errors, object metadata
helpers for plain-dict objects, label selectors, watch and wait utilities.

client-go is built on apimachinery; the pieces of it that the client-go
mirror needs live here under the same names (``errors`` for
``pkg/api/errors``, ``metav1`` for ``pkg/apis/meta/v1`` and ``pkg/api/meta``,
``watch`` for ``pkg/watch``, ``wait`` for ``pkg/util/wait``, ``labels`` for
``pkg/labels``, ``schema`` for ``pkg/runtime/schema`` and the lookup half
of ``runtime.Scheme``, ``types`` for ``pkg/types``' patch types).
"""
