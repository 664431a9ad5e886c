"""gradcheck: check backprop gradients against numerical derivatives, with verdicts you can trust."""

from gradcheck._legacy import GradientCheckReport, check_gradients
from gradcheck.vjp import check_vjp

__all__ = ["GradientCheckReport", "check_gradients", "check_vjp"]
