"""Running a plan: config, plan, runner, worker, monitor, machine fingerprint, tier session. May import analysis, store, tiers, engines, core, workloads and kernels."""
