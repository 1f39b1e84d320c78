"""Dense blocks of the account x target engagement graph, for logs with or without devices and
IPs (ratings, reviews, follows).

`fraudar` peels the densest blocks (FRAUDAR's log-weighted density); `significance` measures any
grouping of accounts (communities, blocks) against a configuration-model null with
Benjamini-Hochberg q-values; `bipartite` builds the graph both read, from the engagements the
pipeline counts (`graphguard.graph.context.engagements`); `run` is the `graphguard dense`
method. None of it changes `graphguard detect`'s evidence or scores.
"""
