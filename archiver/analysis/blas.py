"""One BLAS thread around model fits.

OpenBLAS starts a thread per core for every matrix product; on a machine whose cores are already
busy (another archiver, a sync, a build) those threads fight each other and a topic fit runs 6x
slower than on one thread. The fits here are small products repeated many times, where one thread
loses little even on an idle machine.
"""

from __future__ import annotations

import functools


def one_blas_thread(fn):
    """Run ``fn`` with BLAS (and OpenMP) limited to one thread, restored afterwards."""
    @functools.wraps(fn)
    def limited(*args, **kwargs):
        # The limit reaches only the BLAS libraries already loaded: scikit-learn brings SciPy's
        # own OpenBLAS, so it is loaded first.
        import sklearn.decomposition  # noqa: F401
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1):
            return fn(*args, **kwargs)
    return limited
