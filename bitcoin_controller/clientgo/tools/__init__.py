"""Client-side tools, mirroring ``k8s.io/client-go/tools``.

* :mod:`.cache` -- stores, indexers, the DeltaFIFO, reflectors and informers
  (``tools/cache``).
* :mod:`.record` -- event recording (``tools/record``).
* :mod:`.leaderelection` -- leader election on Leases
  (``tools/leaderelection``).
* :mod:`.clientcmd` -- kubeconfig loading (``tools/clientcmd``).
"""
