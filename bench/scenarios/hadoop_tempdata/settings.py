"""The hadoop-tempdata scenario's settings, read by the scenario (its steps) and by its findings (cache room)."""

CONTAINER_JOB_MB = 64         # the sort's own memory in a container (it runs in 64 MB); the rest is page cache
QUICK_RECORDS = 1_000_000     # 100 MB: the quick run takes about a minute on 2 cores
DEFAULT_RECORDS = 2_000_000   # 200 MB
CACHE_SHARE = 16              # default container: page cache room for 1/16 of the temp data (the case: temp >> memory)
EMULATED_HDD_DRIVES = 4       # the emulated node's data drives (see README: scenario): 600 IOPS, 720 MB/s
HDFS_READ_MBPS = 20.0         # the other HDFS clients' steady read load on the data tier: 1/9 of a 7200 rpm drive
