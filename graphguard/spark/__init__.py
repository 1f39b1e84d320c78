"""The Spark engine: the same stages as the local pipeline, as DataFrame code.

``graphguard detect EVENTS --engine spark`` (or `graphguard.spark.engine.run_detection_spark`,
or ``run_detection(..., engine="spark")``) reads, validates, indexes, projects, finds components
and Leiden communities on Spark and writes the same run directory as the local engine
(`graphguard.rundir.write_run`). Only this package imports pyspark; it is an optional extra
(``pip install graphguard[spark]``, Java 17).

The DataFrames the stages hand each other (the contract between the modules of this package;
column names and Spark types; every frame is a `pyspark.sql.DataFrame`):

``indexed`` (`graph.index_events`): one row per validated, deduplicated event, exactly the
local engine's `graphguard.graph.build.index_events`:
    account     int     account index = rank of the sorted account id (0..n_accounts-1)
    t           long    event time, microseconds since the epoch (UTC)
    event_type  string
    device      string  (null: none)
    ip          string  (null: none)
    target      string  (null: none)
``account_ids`` (`graph.index_events`): account int, account_id string; one row per account.

``edges`` (`graph.account_graph`): the combined account graph, one row per linked pair,
exactly `graphguard.graph.build.build_account_graph`'s ``edges``:
    src, dst                   int     account indices, src < dst
    {relation}_weight          double  for relation in device, ip, sync, dense (0: not linked)
    {relation}_support         int     (0: not linked)
    weight                     double  the combined weight (> graph.min_edge_weight)

``membership`` (`communities.spark_communities`): one row per account that has an edge:
    account    int
    component  long   connected component of the account graph = its smallest account index
    cluster    long   canonical cluster id (0.. ordered by smallest member account index, as
                      the local engine's `graphguard.community.leiden.leiden`); -1: in no
                      reported community
Accounts without an edge are in no row (cluster -1 everywhere else).

The scoring stages (`evidence`, `scoring`, `features`, `model` in this package) are called from
`engine.score_stages` with one `engine.SparkStages` (spark session, config, ``indexed``,
``account_ids``, ``edges``, ``membership``, n_accounts, the community parameters):
    spark_evidence(stages)                         -> (clusters, members)
    spark_scores(stages, clusters, members)        -> accounts
    spark_features(stages, clusters, members)      -> features
    spark_model_scores(stages, features, model)    -> per-account class probabilities
    spark_fuse_scores(accounts, proba, scoring, unseen=...) -> accounts (model fused)
    spark_finish(stages, clusters, accounts, labels=...)   -> scoring.SparkRunTables
each a Spark DataFrame with the columns of its local twin (`community_evidence`,
`score_accounts`, `account_features`, `GraphSAGEDetector.predict_proba`, `fuse_scores`), but
``clusters``: one row per community, collected to the driver and scored there by the local
engine's own `score_clusters` (a Polars frame, exactly the local ``Stages.clusters``), as
`SparkRunTables.clusters` is the local run's clusters table (worded by `finish_clusters`).
Spark has no unsigned integers: counts are long where the local tables hold UInt32, and
`scoring.contract` casts a collected table to the run directory's dtypes.
"""
