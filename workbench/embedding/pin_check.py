"""The last check before an embedding run commits: is the model still exactly the pinned one?

Shared by the whole-column engines (:mod:`workbench.embedding.run`) and the progressive run
(:mod:`workbench.embedding.progressive`), which checks before every batch it commits.
"""

from __future__ import annotations

from workbench.errors import CanaryMismatchError
from workbench.models.canary import CanaryPin, verify_canaries
from workbench.models.embedder import Embedder
from workbench.models.ref import ModelRef

__all__ = ["still_the_pinned_model"]


def still_the_pinned_model(embedder: Embedder, ref: ModelRef, canaries: CanaryPin) -> None:
    """Just before the commit: the canaries again (all of them) and a local model's file pin.

    Raises:
        FingerprintMismatchError: the model changed since the run started.
    """
    if not ref.is_served:
        from workbench.models.sources.local import resolve_model_dir, verify_model_dir

        verify_model_dir(ref, resolve_model_dir(ref))
    result = verify_canaries(embedder, canaries)
    if not result.passed:
        raise CanaryMismatchError(
            f"model {ref.name!r} ({ref.pin}) changed behind its name mid-run: before the commit "
            f"{result.problem}; re-pin what it serves now as a new model (`workbench models add "
            "NEW_ALIAS …`) and embed it beside the old column.",
            min_cosine=result.min_cosine,
        )
