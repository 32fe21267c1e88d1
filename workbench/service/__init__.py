"""``workbench serve``: production over HTTP, following the tag and the rollout record.

Modules: :mod:`~workbench.service.settings` (what a server is started with),
:mod:`~workbench.service.follower` (the validated production and rollout a worker serves,
swapped atomically off the request path), :mod:`~workbench.service.shadow` (the bounded shadow
queue and its worker), :mod:`~workbench.service.metrics` (Prometheus),
:mod:`~workbench.service.api` (the FastAPI application) and :mod:`~workbench.service.run`
(uvicorn, one or several workers).
"""

__all__: list[str] = []  # the API is in the modules; see each module's __all__
