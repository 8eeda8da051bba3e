"""Programs that run on lab hosts. Standard library and prometheus-client only, so they deploy
to any host with python3."""
