"""Entry point for mitmproxy users: `mitmdump -s proxy_addon/main.py [--set postguard_policy=DIR ...]`."""

from proxy_addon.addon import PostguardAddon

addons = [PostguardAddon()]
