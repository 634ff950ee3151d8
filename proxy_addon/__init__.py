"""postguard's mitmproxy add-on and the request extraction it uses (`proxy_addon.extract`)."""
