"""postguard's pure checker: a post and a loaded policy in, findings citing the Board policy out.

No network, file or clock access after `load_policy`; never imports mitmproxy or aiohttp.
"""

from checker.engine import InputError, check, find_sponsored
from checker.model import Finding, ImageInput, Post, Verdict
from checker.policy import DEFAULT_POLICY_DIR, Policy, PolicyError, load_policy
from checker.redact import redact

__all__ = [
    "DEFAULT_POLICY_DIR", "Finding", "ImageInput", "InputError", "Policy", "PolicyError", "Post",
    "Verdict", "check", "find_sponsored", "load_policy", "redact",
]
