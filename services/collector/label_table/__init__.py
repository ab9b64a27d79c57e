"""Helpers of the `label_table` source (services/collector/sources/label_table.py): the start
body (spec), connections to the user's databases, the staging table and its swap, the sample."""
