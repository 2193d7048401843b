"""Engines run an I/O pattern on a tier: builtin (kernels.ioloop) and fio/. May import bench.tiers.detect (space checks), bench.core and kernels."""
