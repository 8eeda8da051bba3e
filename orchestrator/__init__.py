"""testbed orchestrator: runs server performance experiments on a multi-host lab."""
