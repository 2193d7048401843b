"""The Spark engine: TeraSort on an Apache Spark standalone cluster, its temp data (shuffle files, spills) in each
worker's local dirs on the --temp tier, measured with Spark's own metrics (docs/spark.md).

- helper.py     Java and pyspark checks; the JVM helper (RawRecords.java: raw fixed-length records in and out)
- cluster.py    a standalone master and N one-core workers on 127.0.0.1, started and stopped per case
- driver.py     the driver program (its own process): the DataFrame sort, Spark's REST metrics, the local dirs
- stages.py     Spark's stage metrics as phase records (map = shuffle write, reduce = shuffle read + output)
- terasort.py   the case: teragen and valsort from workloads/terasort.py around the Spark sort
"""
