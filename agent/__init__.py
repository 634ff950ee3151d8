"""The agent on each district computer: enrolment, the signed client of the device API, the
forwarder (the local log as a durable queue, uploaded exactly once), heartbeats, and the
supervisor that runs the proxy and the extension backend beside them (`postguard agent run`).

The wire protocol is docs/device-api.md; how to run it is docs/agent.md.
"""
