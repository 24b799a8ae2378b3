"""Clustered brokers whose every inter-node link runs through the fault proxy, and verdicts on their clients.

`pytest_ipc.cluster.core` owns the cluster model (nodes, proxy links, kill/pause/partition/heal),
`pytest_ipc.cluster.timeline` the timeline of events, one module per broker kind (`nats`, `redis`, `rabbitmq`)
says how its nodes find each other, `pytest_ipc.cluster.runner` how a node's programs run (one
module per strategy: `runner_local`, `runner_container`), and `pytest_ipc.cluster.assertions` judges a client.
"""
