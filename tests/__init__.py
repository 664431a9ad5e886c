"""The maintainers' test suite.

With GRADCHECK_FLOAT64_LONGDOUBLE=1 in the environment, np.longdouble and np.clongdouble
are made float64 and complex128 before anything imports the checker: the platforms where
they are (Windows, macOS on Apple silicon), simulated on any machine. CI runs the suite
both ways.
"""

import os

import numpy as np

if os.environ.get("GRADCHECK_FLOAT64_LONGDOUBLE") == "1":
    np.longdouble = np.float64
    np.clongdouble = np.complex128
