"""gradcheck: check backprop gradients against numerical derivatives, with verdicts you can trust.

The pipeline, one module per stage: `inputs` (validate) -> `evaluate` (call the cost) ->
`methods` (where to evaluate) -> `estimate` (derivatives and their uncertainty) -> `judge`
(verdicts) -> `explain` (patterns, kinks) -> `report`. `tolerances` holds every tunable
number; `check` wires the stages; `vjp` is the layer-level front door.
"""

from gradcheck.check import check_gradients
from gradcheck.report import GradientCheckReport, Kink, ParameterResult
from gradcheck.vjp import check_vjp

__all__ = ["GradientCheckReport", "Kink", "ParameterResult", "check_gradients", "check_vjp"]
