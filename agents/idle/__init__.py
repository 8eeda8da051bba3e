"""The idle-connection agent: 10,000+ silent connections from one process (epoll).
``python3 -m agents.idle`` holds them until stopped; ``python3 -m agents.idle.service`` holds each
point's share for a whole sweep, told over HTTP. ``README.md`` beside this file is its manual.

    agent.py     the epoll loop (IdleAgent) and the descriptor limit it needs
    metrics.py   its Prometheus metrics
    report.py    its JSON object
    cli.py       the one-shot command line (__main__.py runs it)
    service.py   the service
"""
