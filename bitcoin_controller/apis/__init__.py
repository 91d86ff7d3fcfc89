"""API types of the custom resources this controller serves.

Laid out like a Go API package (the original's ``internal/apis``):
``apis/<group>/register.py`` names the API group, and
``apis/<group>/<version>/`` holds that version's types (``types.py``), its
registration constants (``register.py``) and its validation.
"""
