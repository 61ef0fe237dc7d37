"""Peak memory beside a bench's figures (issue 21: every figure in bench/ with its peak
memory). The kernel's own high-water marks: the largest resident set this process reached,
and the largest of the processes it started and waited for (a probe, the service and its
workers, the Sheets stand-in), each in MB."""

from __future__ import annotations

import resource


def peak_mb() -> dict[str, int]:
    """{"peak_rss_mb": this process's, "children_peak_rss_mb": its largest waited child's}."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KB on Linux
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"peak_rss_mb": own // 1024, "children_peak_rss_mb": children // 1024}
