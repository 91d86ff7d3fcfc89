"""A Python mirror of Go's client-go, package by package.

===========================  ==========================================
client-go package            Python module
===========================  ==========================================
``kubernetes``               :mod:`.kubernetes` (typed clientset)
``kubernetes/fake``          :mod:`.kubernetes.fake`
``rest``                     :mod:`.rest`
``tools/clientcmd``          :mod:`.tools.clientcmd`
``tools/cache``              :mod:`.tools.cache`
``tools/record``             :mod:`.tools.record`
``tools/leaderelection``     :mod:`.tools.leaderelection`
``informers``                :mod:`.informers`
``listers``                  :mod:`.listers`
``util/workqueue``           :mod:`.util.workqueue`
``testing``                  :mod:`.testing`
===========================  ==========================================

Go names map to PEP 8 (``AddRateLimited`` -> ``add_rate_limited``), Go's
multiple returns to tuples (``item, shutdown = q.get()``) and durations to
float seconds.  Objects are plain decoded-JSON dicts.
"""
