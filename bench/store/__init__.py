"""Run documents on disk and a run's status. May import bench.core only."""
