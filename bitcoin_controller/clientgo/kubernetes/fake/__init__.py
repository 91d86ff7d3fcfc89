"""The fake clientset for unit tests, mirroring ``k8s.io/client-go/kubernetes/fake``.

    cs = fake.Clientset(network, pod)          # seeded through the object tracker
    ...run the controller's sync...
    assert [(a.verb, a.resource.resource) for a in cs.actions()] == [...]
"""

from .clientset import Clientset, FakeResourceClient, new_clientset, new_simple_clientset

__all__ = ["Clientset", "FakeResourceClient", "new_clientset", "new_simple_clientset"]
